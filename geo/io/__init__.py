"""Files in and out: the import pipeline, exports in constant memory, the Catastro Minero reader
and CSV cells made safe for spreadsheets."""
