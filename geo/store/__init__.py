"""The database: the schema (models), connections and the request pool, the local cluster,
migrations, the sample data, and the change counters cached answers are keyed on."""
