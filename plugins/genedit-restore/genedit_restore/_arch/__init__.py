"""The networks of genedit-restore (torch); key names are the published checkpoint layouts'."""
