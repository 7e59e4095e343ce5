"""Images: pixels in a frame, decoding and checks, a small CNN in torch, its explanations."""
