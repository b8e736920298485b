"""Inference: the ONNX Runtime predictor, evaluation, explanations, numbers."""
