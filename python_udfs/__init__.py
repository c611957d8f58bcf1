"""Pure numerical functions (pricing, volatility surfaces) shared by Python code and PL/Python."""
