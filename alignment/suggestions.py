"""Link suggestions: for a project or feature that does not trace, up to three CRM strategies
ranked by how alike their words are, with the words they share as the reason.

Each CRM strategy in the catalogue (not retired) is a document: its title, description,
customer need and capabilities, plus a capped sample of the rationales of its existing links
(`RATIONALES_PER_STRATEGY` newest project links and as many feature links; on PostgreSQL read
per strategy from an index, so the corpus and its cost grow with the catalogue, never with the
portfolio). The documents are weighed with scikit-learn's TF-IDF (English stop words removed,
sublinear term frequency) and an item — a project's title and description; a feature's, with
its project's title — is compared with each by cosine similarity. Offline and deterministic:
no model to download, the same data gives the same ranking (ties by title). The fitted model
is kept in the process per corpus (keyed by a digest of its text), so a page of items costs
the corpus's query (three on SQLite) and one transform.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import F, OuterRef, Q, Window
from django.db.models.functions import RowNumber
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.metrics.pairwise import linear_kernel

from projects.models import CRMProject, Feature, FeatureLink, ProjectLink
from strategies.models import CRMStrategy, StrategyStatus

MAX_SUGGESTIONS = 3
RATIONALES_PER_STRATEGY = 20
SHARED_WORDS_SHOWN = 5
# Below this cosine similarity a strategy shares too little to be worth suggesting.
MIN_SCORE = 0.02
_MODELS_KEPT = 4
_WORD = re.compile(r"[a-z][a-z0-9]+")


def words(text: str) -> list[str]:
    """Lower-case words, plurals folded to the singular the simple way ("partners" and
    "partner", "accounts" and "account" match; "process" stays)."""
    found = []
    for word in _WORD.findall(text.lower()):
        if len(word) > 3 and word.endswith("ies"):
            word = word[:-3] + "y"
        elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
        found.append(word)
    return found


@dataclass(frozen=True)
class Suggestion:
    strategy_id: int
    title: str
    score: float
    shared_words: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "Shares: " + ", ".join(self.shared_words)

    @property
    def rationale(self) -> str:
        """A first draft of the link's rationale, for the person to edit before saving."""
        return f"Serves “{self.title}”: both are about {', '.join(self.shared_words)}."


@dataclass
class _Model:
    vectorizer: TfidfVectorizer
    matrix: Any
    strategies: list[tuple[int, str]]
    vocabulary: Any


_cache: OrderedDict[str, _Model] = OrderedDict()
_lock = threading.Lock()


def _newest_rationales(link_model: Any) -> Any:
    """The RATIONALES_PER_STRATEGY newest non-blank rationales of the outer CRM strategy's
    links of this kind: the sample its document takes."""
    return (
        link_model.objects.filter(crm_strategy=OuterRef("pk"))
        .exclude(rationale="")
        .order_by("-created_at", "-id")
        .values("rationale")[:RATIONALES_PER_STRATEGY]
    )


def _rationale_sample(link_model: Any) -> list[tuple[int, str]]:
    """Up to RATIONALES_PER_STRATEGY newest rationales per CRM strategy, with a window over
    every link: one query, used where the strategies' own rows cannot carry them (SQLite)."""
    rows = (
        link_model.objects.filter(~Q(rationale=""))
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("crm_strategy_id")],
                order_by=[F("created_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=RATIONALES_PER_STRATEGY)
        .values_list("crm_strategy_id", "rationale")
        .order_by()
    )
    return list(rows)


_LINK_MODELS = {"project_rationales": ProjectLink, "feature_rationales": FeatureLink}


def corpus() -> list[tuple[int, str, str]]:
    """(id, title, document) per CRM strategy that is not retired, by title.

    On PostgreSQL one query: each strategy's row carries its samples as arrays, read from the
    links' partial index on (CRM strategy, newest first), so the cost follows the catalogue
    (strategies x the sample's size) and not the number of links. Elsewhere three queries, the
    samples picked by a window over all links."""
    texts = (
        "description",
        "customer_need",
        "capability_people",
        "capability_process",
        "capability_technology",
    )
    strategies = CRMStrategy.objects.exclude(status=StrategyStatus.RETIRED).order_by("title", "id")
    rationales: dict[int, list[str]] = defaultdict(list)
    if connection.vendor == "postgresql":
        rows = strategies.annotate(
            **{
                name: ArraySubquery(_newest_rationales(model))
                for name, model in _LINK_MODELS.items()
            }
        ).values_list("id", "title", *texts, *_LINK_MODELS)
        found = []
        for pk, title, *rest in rows:
            found.append((pk, title, *rest[: len(texts)]))
            for sample in rest[len(texts) :]:
                rationales[pk].extend(sample)
    else:
        found = list(strategies.values_list("id", "title", *texts))
        for model in _LINK_MODELS.values():
            for strategy_id, rationale in _rationale_sample(model):
                rationales[strategy_id].append(rationale)
    documents = []
    for pk, title, *own in found:
        # The title counts twice: it is the strategy's name for itself.
        parts = [title, title, *own, *sorted(rationales.get(pk, []))]
        documents.append((pk, title, "\n".join(part for part in parts if part)))
    return documents


def _model(documents: list[tuple[int, str, str]]) -> _Model | None:
    if not documents:
        return None
    digest = hashlib.sha256(
        "\x1e".join(f"{pk}\x1f{text}" for pk, _, text in documents).encode()
    ).hexdigest()
    with _lock:
        if digest in _cache:
            _cache.move_to_end(digest)
            return _cache[digest]
    vectorizer = TfidfVectorizer(
        tokenizer=words,
        token_pattern=None,
        lowercase=False,
        stop_words=sorted(set(words(" ".join(ENGLISH_STOP_WORDS)))),
        sublinear_tf=True,
    )
    try:
        matrix = vectorizer.fit_transform([text for _, _, text in documents])
    except ValueError:  # nothing but stop words in the whole catalogue
        return None
    model = _Model(
        vectorizer=vectorizer,
        matrix=matrix,
        strategies=[(pk, title) for pk, title, _ in documents],
        vocabulary=vectorizer.get_feature_names_out(),
    )
    with _lock:
        _cache[digest] = model
        while len(_cache) > _MODELS_KEPT:
            _cache.popitem(last=False)
    return model


def _rank(
    model: _Model, texts: Sequence[str], exclude: Sequence[set[int]]
) -> list[list[Suggestion]]:
    queries = model.vectorizer.transform(texts)
    scores = linear_kernel(queries, model.matrix)
    results = []
    for row, (query, skip) in enumerate(zip(queries, exclude, strict=True)):
        ranked = sorted(
            (
                (-float(scores[row, col]), title, col, pk)
                for col, (pk, title) in enumerate(model.strategies)
                if pk not in skip and scores[row, col] >= MIN_SCORE
            ),
        )[:MAX_SUGGESTIONS]
        query_terms = query.toarray()[0]
        suggestions = []
        for negative, title, col, pk in ranked:
            strategy_terms = model.matrix[col].toarray()[0]
            shared = (query_terms * strategy_terms).nonzero()[0]
            words = sorted(shared, key=lambda t: (-query_terms[t] * strategy_terms[t], t))
            suggestions.append(
                Suggestion(
                    strategy_id=pk,
                    title=title,
                    score=round(-negative, 4),
                    shared_words=tuple(
                        str(model.vocabulary[t]) for t in words[:SHARED_WORDS_SHOWN]
                    ),
                )
            )
        results.append(suggestions)
    return results


def _project_text(project: CRMProject) -> str:
    return f"{project.title}\n{project.description}"


def _feature_text(feature: Feature) -> str:
    return f"{feature.title}\n{feature.description}\n{feature.project.title}"


def for_projects(projects: Sequence[CRMProject]) -> dict[int, list[Suggestion]]:
    """Suggestions for each of `projects` (a page, or one), leaving out the CRM strategies each
    already links to. A fixed number of queries whatever their number."""
    model = _model(corpus())
    if model is None or not projects:
        return {project.pk: [] for project in projects}
    linked: dict[int, set[int]] = {project.pk: set() for project in projects}
    for project_id, strategy_id in ProjectLink.objects.filter(
        project_id__in=list(linked)
    ).values_list("project_id", "crm_strategy_id"):
        linked[project_id].add(strategy_id)
    ranked = _rank(model, [_project_text(p) for p in projects], [linked[p.pk] for p in projects])
    return {project.pk: found for project, found in zip(projects, ranked, strict=True)}


def for_features(features: Sequence[Feature]) -> dict[int, list[Suggestion]]:
    """Suggestions for each of `features` (with their project selected)."""
    model = _model(corpus())
    if model is None or not features:
        return {feature.pk: [] for feature in features}
    linked: dict[int, set[int]] = {feature.pk: set() for feature in features}
    for feature_id, strategy_id in FeatureLink.objects.filter(
        feature_id__in=list(linked)
    ).values_list("feature_id", "crm_strategy_id"):
        linked[feature_id].add(strategy_id)
    ranked = _rank(model, [_feature_text(f) for f in features], [linked[f.pk] for f in features])
    return {feature.pk: found for feature, found in zip(features, ranked, strict=True)}


def measure() -> tuple[int, int]:
    """How often the right CRM strategy comes first: for each project and feature that links
    to one, remove its links (inside a transaction rolled back afterwards, so the removed
    rationales leave the corpus too) and ask for suggestions. Returns (first right, items)."""
    from django.db import transaction

    class _Undo(Exception):
        pass

    hits = total = 0
    items: list[tuple[Any, Any]] = [
        *((p, ProjectLink) for p in CRMProject.objects.filter(links__isnull=False).distinct()),
        *(
            (f, FeatureLink)
            for f in Feature.objects.select_related("project")
            .filter(links__isnull=False)
            .distinct()
        ),
    ]
    for item, link_model in items:
        owner = "project" if link_model is ProjectLink else "feature"
        links = link_model.objects.filter(**{owner: item})
        right = set(links.values_list("crm_strategy_id", flat=True))
        try:
            with transaction.atomic():
                links.delete()
                found = (for_projects if owner == "project" else for_features)([item])[item.pk]
                raise _Undo
        except _Undo:
            pass
        total += 1
        hits += bool(found) and found[0].strategy_id in right
    return hits, total
