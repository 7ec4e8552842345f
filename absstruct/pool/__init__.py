"""Pool selection: eligibility rules, concentration limits, exclusions and stratification tables."""
