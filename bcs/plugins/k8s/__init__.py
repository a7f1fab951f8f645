"""The Kubernetes backend: kube agent, data watch and the operators (GameDeployment, GameStatefulSet,
Hook). Reaches clusters only over their HTTP API; never imports another plugin."""
