"""Possible duplicates of an appeal (same category, nearby, similar words), scored when staff look, not at intake."""

import logging
import math
import re
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import jieba
from django.db.models import Q

from .models import Appeal, Tier
from .services import place_for_tier, visible_appeals

jieba.setLogLevel(logging.WARNING)

RADIUS_M = 300             # "nearby": within this distance, or in the same grid
WINDOW_DAYS = 30           # only appeals submitted within this many days of each other
SCAN_LIMIT = 200           # at most this many nearby appeals are compared
TEXT_WEIGHT = 0.7          # score = 0.7 × text similarity + 0.3 × closeness
MIN_TEXT = 0.25            # shared generic words (很大, 楼下) alone stay below this
MIN_SCORE = 0.4
METRES_PER_DEGREE = 111_320
# Single characters that carry no meaning on their own; other single characters (吵, 臭, 堵) are kept.
STOP = set("的了在是我有和就不人都一也很到说要去你会着没看好这那他她它们吗吧啊呢还又被把让给从对")
WORD = re.compile(r"[\w\u4e00-\u9fff]")
HAN_RUN = re.compile(r"[\u4e00-\u9fff]{2,}")


@dataclass
class Candidate:
    appeal: Appeal
    score: float         # 0..1
    text_score: float    # cosine similarity of the word counts
    distance_m: int | None


def words(appeal) -> Counter:
    """jieba's search-mode words of title and description, plus character pairs (which survive segmentation
    mistakes such as 楼道 split as 单元楼/道), without punctuation and stop characters."""
    title, text = appeal.title.strip(), appeal.description
    if title and not text.startswith(title):
        text = f"{title} {text}"
    found = Counter(w for w in (t.strip().lower() for t in jieba.lcut_for_search(text))
                    if w and WORD.search(w) and w not in STOP)
    for run in HAN_RUN.findall(text):
        found.update(run[i:i + 2] for i in range(len(run) - 1))
    return found


def cosine(a: Counter, b: Counter) -> float:
    dot = sum(n * b[w] for w, n in a.items() if w in b)
    norm = math.sqrt(sum(n * n for n in a.values())) * math.sqrt(sum(n * n for n in b.values()))
    return dot / norm if norm else 0.0


def distance_m(a, b) -> float | None:
    """Great-circle distance between two appeals' points, or None when either has none."""
    if None in (a.latitude, a.longitude, b.latitude, b.longitude):
        return None
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlng = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlng / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


def _nearby(appeal):
    """Same grid (or same place when it has no grid), or within RADIUS_M of its point."""
    grid = place_for_tier(appeal.place, Tier.GRID)
    near = Q(place__path__startswith=grid.path) if grid else Q(place=appeal.place)
    if appeal.latitude is not None and appeal.longitude is not None:
        dlat = RADIUS_M / METRES_PER_DEGREE
        dlng = dlat / max(math.cos(math.radians(appeal.latitude)), 0.01)
        near |= Q(latitude__range=(appeal.latitude - dlat, appeal.latitude + dlat),
                  longitude__range=(appeal.longitude - dlng, appeal.longitude + dlng))
    return near


def candidates(user, appeal, limit=5) -> list[Candidate]:
    """Open (or resolved, unrated) appeals this user can see that the appeal may repeat, best first."""
    window = timedelta(days=WINDOW_DAYS)
    rows = (visible_appeals(user)
            .filter(category_id=appeal.category_id, status__in=Appeal.OPEN + (Appeal.Status.RESOLVED,),
                    merged_into__isnull=True,
                    created_at__range=(appeal.created_at - window, appeal.created_at + window))
            .filter(_nearby(appeal)).exclude(pk=appeal.pk).order_by("-created_at")[:SCAN_LIMIT])
    mine = words(appeal)
    found = []
    for other in rows:
        text = cosine(mine, words(other))
        if text < MIN_TEXT:
            continue
        metres = distance_m(appeal, other)
        closeness = 0.5 if metres is None else max(0.0, 1 - metres / (2 * RADIUS_M))
        score = TEXT_WEIGHT * text + (1 - TEXT_WEIGHT) * closeness
        if score >= MIN_SCORE:
            found.append(Candidate(other, round(score, 2), round(text, 2), None if metres is None else round(metres)))
    found.sort(key=lambda c: -c.score)
    return found[:limit]
