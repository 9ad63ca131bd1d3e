"""The call broker, in three parts sharing only the in-flight registry: enqueue and cancel
(``enqueue``), reply delivery (``replies``) and the periodic sweep (``sweep``)."""
