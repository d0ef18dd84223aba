"""Detectors: raw signals (RF, audio, Remote ID frames, images) to skyfence Detections."""

__all__: list[str] = []
