"""Studies over many trained networks: :mod:`.priors` (``nas priors``: which priors wire networks
that learn) and :mod:`.pruning` (``nas prune``: pruning methods compared over seeds)."""
