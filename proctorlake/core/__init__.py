"""Foundation: settings, ids, table schemas, topics and their message contracts. Imports no
other ProctorLake package."""
