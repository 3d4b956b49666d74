"""Who is asking: organisations, API keys and OpenID Connect tokens turned into a viewer."""
