"""The local lab: real registries, synthetic OpenShift releases, a signature store, an update graph and a
simulated OpenShift API with its Cluster Version Operator, all on loopback. See ``docs/sandbox.md``."""
