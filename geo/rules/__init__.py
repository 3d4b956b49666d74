"""The mining law and the protection rule as code: the cuadrícula minera, the rights registry's
lifecycle, a right's geometry rules, ground status, and when a zone constrains something."""
