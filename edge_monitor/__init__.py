"""Device side of ecg-edge: streaming DSP, int8 inference and alerts. Never imports torch."""

__version__ = "0.1.0"
