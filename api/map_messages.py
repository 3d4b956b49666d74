"""The web map's words, marked for the catalogue (context "map"): the page's text and the labels
map.js writes, each looked up by its English text in the browser (api/static/map/i18n.js)."""

from __future__ import annotations

from geo.core.messages import N_

MAP_MESSAGES = (
    # The panel (api/static/map/index.html).
    N_("map", "Veta · web map of deposits, mining rights and protection zones"),
    N_("map", "Mineral deposits, mining rights and land-use protection zones of León."),
    N_("map", "Language"), N_("map", "Layers"), N_("map", "Protection zones"), N_("map", "Mining rights"),
    N_("map", "Deposits"), N_("map", "Deposits by MDoPI class"), N_("map", "Administrative boundaries"),
    N_("map", "OpenStreetMap basemap (online)"), N_("map", "Rasters"), N_("map", "Loading…"),
    N_("map", "Filter deposits"), N_("map", "Commodity"), N_("map", "All commodities"),
    N_("map", "Ctrl-click (⌘-click) to choose several."), N_("map", "Protection status"),
    N_("map", "Area"), N_("map", "Everywhere"), N_("map", "Screen a site"), N_("map", "Draw a polygon"),
    N_("map", "Cancel drawing"),
    N_("map", "Click to add corners, double-click to finish, Esc to cancel. Or click a deposit and choose “Screen this deposit”."),
    N_("map", "Plan a land use"), N_("map", "Planning mode: a drawn polygon is a proposed plan"),
    N_("map", "Land use"), N_("map", "Legal effect on mining"),
    N_("map", "Reaches down to (m, empty: the whole column)"), N_("map", "Legend"),
    # The legend, the screening and the plan impact (api/static/map/map.js).
    N_("map", "Protection zones by legal effect"), N_("map", "Mining rights by status"),
    N_("map", "Deposits by main commodity"),
    N_("map", "Deposits by MDoPI class (safeguarding areas: zones of effect safeguarding)"),
    N_("map", "Deposit outline: protection status"),
    N_("map", "exclusion"), N_("map", "conditional"), N_("map", "safeguarding"), N_("map", "informative"),
    N_("map", "excluded"), N_("map", "free"),
    N_("map", "applied"), N_("map", "admitted"), N_("map", "granted"), N_("map", "extended"),
    N_("map", "lapsed"), N_("map", "renounced"), N_("map", "denied"),
    N_("map", "eu"), N_("map", "national"), N_("map", "regional"), N_("map", "local"), N_("map", "none"),
    N_("map", "tungsten"), N_("map", "lithium"), N_("map", "tin"), N_("map", "gold"), N_("map", "coal"),
    N_("map", "copper"), N_("map", "cobalt"), N_("map", "nickel"), N_("map", "graphite"),
    N_("map", "antimony"), N_("map", "iron"), N_("map", "slate"), N_("map", "other"),
    N_("map", "Excluded: mining is prohibited here"), N_("map", "Conditional: mining needs an assessment"),
    N_("map", "Free of restricting zones (the ground may still be taken: see the ground status)"),
    N_("map", "Ground open: no mining right applied for or held here"),
    N_("map", "Ground applied for: another right's application covers part of the site"),
    N_("map", "Ground held: a granted mining right in force covers part of the site"),
    N_("map", "open"), N_("map", "applied for"), N_("map", "held"),
    N_("map", "Overlapping zones"), N_("map", "Overlapping mining rights"), N_("map", "Zone"), N_("map", "Effect"),
    N_("map", "Share"), N_("map", "Right"), N_("map", "Status"), N_("map", "None."),
    N_("map", "Open report"), N_("map", "Download PDF"), N_("map", "Download GeoJSON"),
    N_("map", "Conflict: sterilises a deposit of regional or higher importance"),
    N_("map", "Caution: touches safeguarding areas or lower-class deposits"),
    N_("map", "Clear: no deposit and no safeguarding area"),
    N_("map", "exclusion zone overlaps the site in footprint and depth"),
    N_("map", "conditional zone overlaps the site in footprint and depth"),
    N_("map", "footprints overlap but depth intervals do not (3D rule): the zone does not constrain the site"),
    N_("map", "no zone of a counted legal effect (exclusion, conditional) in force overlaps the site in footprint and depth"),
    N_("map", "Sterilised deposits by class"), N_("map", "Safeguarding areas overlapped"),
    N_("map", "Class"),
    N_("map", "Finding the deposits of the area…"),
    # Written with values by map.js: matched as patterns, the values kept.
    N_("map", "{count} deposits pass the filters."), N_("map", "{count} deposits in {area}."),
    N_("map", "Could not count the deposits: {error}"), N_("map", "Area filter failed: {error}"),
    N_("map", "Could not load the filter lists: {error}"), N_("map", "Screening of {site}"),
    N_("map", "Screening of {site} · site {area} ha"), N_("map", "Screening {site}…"),
    N_("map", "Screening failed: {error}"), N_("map", "Plan impact failed: {error}"),
    N_("map", "Free cuadrículas removed: {count}."), N_("map", "A site needs at least three corners."),
    N_("map", "Assessing the plan…"), N_("map", "No raster registered (veta raster add)."),
)
