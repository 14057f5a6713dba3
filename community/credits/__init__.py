"""Contributors: people across both platforms and the credit ledger behind their scores."""
