"""pixelgpt.model"""
