"""The model clock: simulated kernel time on modeled CPUs.

Layers, each its own module:

* ``maple.mm.events`` (below this package): every syscall and fault of a simulated mm records
  the kernel-level events its code path performs, as segments split by lock context.
* ``profile``: a ``CostProfile`` prices each event in ns and holds the scheduler's parameters
  (context switch, wake-up latency, cache-line transfer, rwsem spin budget, SMT factor, IPI).
* ``scheduler``: a deterministic discrete-event simulation of C modeled CPUs running T tasks;
  ``mmap_lock`` is modeled as the kernel's rwsem.
* ``programs``: what the simulated tasks run -- the workload's real loop on real simulated mms
  (one thread-coroutine per task in threads mode; a representative task's repeating cycle in
  processes mode).
* ``backend``: ``ModelPass``, the runner's ``SampleSource`` for ``--clock model``.
* ``timed``: kernbench and trace replays under the model clock (syst, user, elsp).
* ``calibrate``: fitting a profile to host measurements (scipy).
* ``cells``: running model cells in parallel (``--jobs``) or on a Dask cluster (``--scheduler``).

See docs/clock.md.
"""
