"""pixelgpt.renderer"""
