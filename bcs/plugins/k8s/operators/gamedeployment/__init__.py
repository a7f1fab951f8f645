"""The GameDeployment operator (``tkex.tencent.com/v1alpha1``): model, scale, update, controller."""
