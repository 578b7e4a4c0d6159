"""Bring a school's old site in: WordPress exports and DedeCMS databases.

common.py writes what wordpress.py and dedecms.py read; dryrun.py lets a
dry run do all of it on a throwaway copy. The commands are in commands.py.
"""
