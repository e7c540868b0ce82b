"""The modules of ``numbanet.nn.functional``, one topic each; import their names from
``numbanet.nn.functional``, which re-exports every one of them."""
