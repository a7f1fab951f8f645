"""The Mesos backend: framework scheduler, driver API, data watch, executors, IPAM and CNI.
Speaks to Mesos masters over HTTP; never imports another plugin."""
