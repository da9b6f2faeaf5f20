"""Crawlers for model zoos; installed as ``mlmeta.crawlers``.

Each module fetches and parses one zoo and yields plain records
(:mod:`mlmeta.records`); it uses only mlmeta's public API and exports a click
command named ``command`` that the ``mlmeta crawl`` group loads.
"""
