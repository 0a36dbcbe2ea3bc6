-- Temporal keeps its own databases next to ours; its auto-setup creates the schema.
CREATE DATABASE temporal;
CREATE DATABASE temporal_visibility;
