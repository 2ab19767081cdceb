"""pixelgpt.train"""
