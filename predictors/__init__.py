"""Structure-to-performance predictors (scikit-learn estimators; no torch here)."""
