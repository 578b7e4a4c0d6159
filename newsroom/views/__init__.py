"""The newsroom's blueprints: the editor and uploaded files."""
