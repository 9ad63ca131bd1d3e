"""HTTP clients for the Kimi (Moonshot) and GLM (Zhipu / Z.ai) chat APIs."""
