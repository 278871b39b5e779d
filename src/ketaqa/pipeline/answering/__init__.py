"""Room 4: ranked passages turned into an answer with a verdict; the facade the front ends use."""
