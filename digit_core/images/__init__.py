"""Images: decoding, locating and cropping the digit, the preprocessing pipeline, segmentation."""
