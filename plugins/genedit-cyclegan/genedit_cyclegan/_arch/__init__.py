"""The networks (private): module names follow junyanz/pytorch-CycleGAN-and-pix2pix's key layout."""
