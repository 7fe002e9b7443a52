"""`make chaos`: faults against `knflow dev` at small scale, each scenario on a fresh database.

Every scenario starts a stack on a throwaway PostgreSQL server of its own (never the shared
one), starts instances of `chaos/workflows/chaos.sw.json` (a call, two parallel calls, a sleep),
injects one fault, and checks that every instance completed once: no stuck instance, no
transition twice, the Data Index equal to the runtime, side effects repeated only where a
call was cut off in flight. It prints one line per scenario and exits 1 on any loss.
"""
