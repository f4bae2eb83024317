"""The case archive (案卷): its format and its offline verifier."""
