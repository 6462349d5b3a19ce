"""Network definitions. Private: import them from hook bodies only (they import torch)."""
