"""pixelgpt.dataset"""
