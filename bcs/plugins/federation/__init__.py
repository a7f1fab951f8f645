"""Federation: FederatedDeployment propagation and the aggregated read API answered from storage.
Reaches member clusters only through the registry and storage; never imports another plugin."""
