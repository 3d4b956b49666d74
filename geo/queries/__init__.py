"""The domain's questions: the deposit search, areas, the rights registry read as of a day,
cuadrícula cells and free ground, site screening one by one and in batch, and the sites they take."""
