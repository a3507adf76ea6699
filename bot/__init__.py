"""qwenbot's conversation core: platform-neutral memory, context and Qwen streaming."""

__version__ = "0.1.0"
