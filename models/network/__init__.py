"""The NumPy/Numba half of :mod:`spikesub.models`: Izhikevich populations, their connectivity
and inputs, the recurrent reservoir that runs them on the network kernels, its monitors, and the
measured choice between its threaded and serial loops. The torch half is
:mod:`spikesub.models.snn`."""
