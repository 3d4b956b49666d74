"""Land-use planning for minerals: MDoPI assessment, safeguarding areas, plan impact."""
