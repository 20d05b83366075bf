"""Multi-source stories: articles of different outlets that report the same event, grouped.

``refresh_stories(store, urls)`` regroups articles with new versions and records the figures of new
versions in the ledger (the check calls it with the URLs it stored versions of); ``list_stories(store)``
reads the stories with their articles and the terms that explain each grouping. The similarity measure is
in :mod:`monitor.stories.similarity`, the grouping in :mod:`monitor.stories.grouping`, the tables in
:mod:`monitor.stories.tables`. The figures the articles of a story report are tracked by
:mod:`monitor.figure_ledger`.
"""

from monitor.stories.grouping import (
    DEFAULT_THRESHOLD,
    Regrouped,
    Story,
    StoryArticle,
    list_stories,
    refresh_stories,
    regroup,
)

__all__ = ["DEFAULT_THRESHOLD", "Regrouped", "Story", "StoryArticle", "list_stories", "refresh_stories", "regroup"]
