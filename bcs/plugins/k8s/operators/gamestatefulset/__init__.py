"""The GameStatefulSet operator (``tkex.tencent.com/v1alpha1``): ordinals, PVCs, partitioned updates."""
