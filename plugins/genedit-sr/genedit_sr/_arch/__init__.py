"""Network definitions (private). Each module is our own implementation of a published design."""
