"""Weight-sharing searches: one trained supernet scores many architectures.

* :mod:`.supernet_rank`, :mod:`.supernet_report` -- does a supernet rank architectures
  like standalone training does (GT-Tau, S-Tau, TnR; path samplers, partial sharing)?
* :mod:`.enas` -- ENAS: a REINFORCE controller and a supernet trained in turn.
* :mod:`.ensemble` -- EdgeNES: diversity-controlled ensembles over a DARTS cell space.
"""
