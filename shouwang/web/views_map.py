"""The area map: the areas under the user's jurisdiction (or under an area of it) coloured by the number of people,
a click on an area going one level down. `area_map_config` builds what the reusable partial web/_area_map.html
draws, for this page and any other (the risk zones map colours the same shapes by zone kind)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from shouwang.accounts.scoping import area_visible, jurisdiction_path
from shouwang.areas.enums import AreaLevel
from shouwang.areas.selectors import area_shapes
from shouwang.core.errors import DomainError
from shouwang.people.models import Person
from shouwang.people.selectors import area_chain
from shouwang.web.views import _error_page

NO_DRILL = {AreaLevel.BUILDING, AreaLevel.UNIT}


def area_map_config(shapes: dict, *, colour_by: str = "people", categories: list[dict] | None = None,
                    points: list[dict] | None = None, link: str = "", link_when: str = "has_children",
                    tooltip: list[list[str]] | None = None, legend_title: str = "", dom_id: str = "area-map", height: str = "") -> dict:
    """What web/_area_map.html needs (it goes to the page as JSON):

    - shapes: a FeatureCollection from areas.selectors.area_shapes (properties id, code, name, people, ...);
    - colour_by: the feature property that colours an area. A number is shaded light to dark in five classes;
      with categories ([{"value", "label", "colour"}]) the value picks the colour (a zone's kind, say) and the
      legend lists the categories; an area whose value matches none keeps the base colour;
    - points: markers drawn over the areas, [{"lon", "lat", "name", "label"?, "colour"?}] (cases, say);
    - link: a URL with "{id}" that a click on an area opens, for areas whose `link_when` property is true;
    - tooltip: [property, label] pairs shown under an area's name (default its level and people);
    - legend_title: the word before the legend (what the colours count or mean);
    - height: a CSS height for the map (default: square, at most 65% of the window's height);
    - tiles: settings.SHOUWANG_MAP_TILES, a tile URL with {z}/{x}/{y}; empty (the default) draws no background
      and loads nothing from outside.
    """
    return {"dom_id": dom_id, "data_id": f"{dom_id}-data", "height": height, "shapes": shapes,
            "colour_by": colour_by, "categories": categories or [], "points": points or [], "link": link,
            "link_when": link_when, "tooltip": tooltip, "legend_title": str(legend_title),
            "tiles": getattr(settings, "SHOUWANG_MAP_TILES", "")}


@login_required
def area_map(request):
    """/areas/map/?area=ID: the area's children coloured by people; the user's jurisdiction by default."""
    raw = request.GET.get("area", "")
    try:
        root = area_visible(user=request.user, area_id=int(raw)) if raw.isdigit() else request.user.jurisdiction
        if root is None:
            return render(request, "web/area_map.html", {"root": None})
        shapes = area_shapes(request.user, root_id=root.id, person_model=Person)
    except DomainError as exc:
        return _error_page(request, exc)
    for feature in shapes["features"]:  # one level down on a click, down to the buildings (units have no shapes)
        p = feature["properties"]
        p["drill"] = p["has_children"] and p["level"] not in NO_DRILL
    top = jurisdiction_path(request.user)
    crumbs = [{"id": a.id, "name": a.name, "link": a.path.startswith(top)} for a in area_chain(root)]
    features = sorted((f["properties"] for f in shapes["features"]), key=lambda p: (-p["people"], p["code"]))
    return render(request, "web/area_map.html", {
        "root": shapes["root"], "crumbs": crumbs, "features": features, "missing": shapes["missing"],
        "map": area_map_config(shapes, link=reverse("areas_map") + "?area={id}", link_when="drill",
                               legend_title=_("人员")),
    })
