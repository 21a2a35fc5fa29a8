"""What words can mean: the vocabulary the prompt reader maps phrases onto.

Each ``Concept`` is one value of one slot (a material, a trigger kind, a time of
day...). ``keywords`` are regular expressions over the reader's canonical text
(lower case, one space between tokens, numbers as digits, hyphens as " - "):
a hit is certain. ``phrases`` are examples for the sentence-embedding matcher,
which catches paraphrases the keywords miss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

# Time of day and weather -> light: the one table in setpiece.vocab, shared with previz.
WEATHER = ("overcast", "fog", "rain", "clear")

DUST_AMOUNTS: dict[str, float] = {"none": 0.0, "light": 0.4, "normal": 1.0, "heavy": 2.5, "engulfing": 5.0}


class Placement(NamedTuple):
    height: float  # camera height above the ground, metres
    distance: float | None  # metres from the building; None frames the building
    distance_scale: float = 1.0  # times the framing distance, when distance is None


PLACEMENTS: dict[str, Placement] = {
    "street level": Placement(1.7, None),
    "low angle": Placement(0.4, None),
    "across the street": Placement(1.7, 30.0),
    "rooftop": Placement(25.0, None, 1.2),
    "high angle": Placement(20.0, None, 1.1),
    "aerial": Placement(80.0, None, 1.4),
    "drone": Placement(40.0, None, 1.2),
    "helicopter": Placement(150.0, None, 2.0),
    "distant": Placement(1.7, None, 3.0),
    "close": Placement(1.7, None, 0.6),
}

LENSES: dict[str, float] = {"ultra wide": 14.0, "wide": 20.0, "normal": 50.0, "telephoto": 200.0}


class BuildingType(NamedTuple):
    material: str | None
    floors: int | None
    footprint: tuple[float, float] | None


BUILDING_TYPES: dict[str, BuildingType] = {
    "apartment block": BuildingType("concrete", None, None),
    "tenement": BuildingType("brick", 5, (20.0, 12.0)),
    "office tower": BuildingType("concrete", 20, (30.0, 24.0)),
    "car park": BuildingType("concrete", 5, (40.0, 30.0)),
    "mill": BuildingType("brick", 5, (45.0, 16.0)),
    "warehouse": BuildingType("brick", 4, (36.0, 20.0)),
    "factory": BuildingType("brick", 3, (40.0, 24.0)),
    "chimney": BuildingType("brick", 20, (4.0, 4.0)),
    "church": BuildingType("sandstone", 4, (14.0, 30.0)),
    "civic": BuildingType("sandstone", 4, (30.0, 20.0)),
    "hotel": BuildingType("concrete", 12, (30.0, 16.0)),
    "hospital": BuildingType("concrete", 8, (50.0, 20.0)),
    "school": BuildingType("brick", 3, (40.0, 15.0)),
    "house": BuildingType("brick", 2, (9.0, 8.0)),
    "silo": BuildingType("concrete", 12, (10.0, 10.0)),
    "power station": BuildingType("brick", 8, (60.0, 30.0)),
    "skyscraper": BuildingType("concrete", 40, (35.0, 35.0)),
}

# height classes: floors when no number is given
HEIGHT_CLASSES: dict[str, int] = {"low-rise": 3, "mid-rise": 8, "high-rise": 20, "tower": 25}

MODES = ("implode", "topple", "partial")
SIDES = ("all", "left", "right", "front", "back")


@dataclass(frozen=True)
class Concept:
    slot: str
    value: str
    keywords: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()


def _c(slot: str, value: str, keywords: str = "", phrases: str = "") -> Concept:
    """Keywords: one regex (alternatives joined by '|'); phrases are ';'-separated examples."""
    kw = (keywords,) if keywords else ()
    ph = tuple(p.strip() for p in phrases.split(";") if p.strip())
    return Concept(slot, value, kw, ph)


CONCEPTS: tuple[Concept, ...] = (
    # --- material ---
    _c(
        "material",
        "concrete",
        r"(?:reinforced |pre - ?cast |precast |poured )?concrete|brutalist|ferro - ?concrete|cinder - ?blocks?"
        r"|breeze - ?blocks?|pre - ?fab\w*|cement",
        "concrete; reinforced concrete; precast concrete panels; brutalist concrete slab block; cast in place concrete",
    ),
    _c(
        "material",
        "brick",
        r"(?:red |yellow |victorian )?bricks?|brick - ?built|brickwork|red - brick|masonry|terra - ?cotta",
        "brick; red brick; brickwork; built of bricks; victorian red brick walls",
    ),
    _c(
        "material",
        "sandstone",
        r"sandstone|limestone|granite|marble|brownstone|stone - ?built|ashlar|(?:dressed |cut |grey "
        r"|gray )?stone(?! cold| \' s)",
        "sandstone; stone; limestone facade; granite blocks; carved stone masonry",
    ),
    # --- building type (implies material, floors, footprint) ---
    _c(
        "type",
        "apartment block",
        r"apartments?(?: (?:block|building|complex|tower))?|flats|block of flats|housing (?:block|estate|project)"
        r"|residential (?:block|tower|building)|condo(?:minium)?s?|council (?:block|estate)",
        "apartment block; block of flats; residential tower; housing project; condominium building",
    ),
    _c("type", "tenement", r"tenements?", "tenement; old tenement building"),
    _c(
        "type",
        "office tower",
        r"office (?:tower|block|building|complex)s?|offices|corporate (?:tower|hq|headquarters)|headquarters",
        "office tower; office block; corporate headquarters; glass office building",
    ),
    _c(
        "type",
        "car park",
        r"car - ?park|carpark|parking (?:garage|structure|deck|ramp|lot)|multi - ?stor(?:e?y|ey) (?:car park)?",
        "car park; parking garage; multi-storey car park; parking structure",
    ),
    _c(
        "type",
        "mill",
        r"(?:cotton |textile |woollen |paper |flour )?mill",
        "cotton mill; old textile mill; victorian mill building",
    ),
    _c("type", "warehouse", r"warehouses?|depot|storehouse", "warehouse; storage depot; old dockside warehouse"),
    _c(
        "type",
        "factory",
        r"factory|factories|plant|foundry|mill works|steel ?works",
        "factory; industrial plant; old works building",
    ),
    _c(
        "type",
        "chimney",
        r"chimneys?|smoke ?stacks?|stacks?",
        "chimney; smokestack; industrial chimney stack",
    ),
    _c("type", "church", r"church|cathedral|chapel|steeple|spire", "church; cathedral; chapel with a steeple"),
    _c(
        "type",
        "civic",
        r"town hall|city hall|courthouse|bank|library|museum|station hall|post office",
        "town hall; courthouse; old bank building; museum",
    ),
    _c("type", "hotel", r"hotel|casino", "hotel; casino hotel tower"),
    _c("type", "hospital", r"hospital|infirmary|clinic", "hospital; old infirmary building"),
    _c("type", "school", r"school|college|gymnasium", "school; college building"),
    _c(
        "type",
        "house",
        r"house|houses|home|cottage|bungalow|terrace|townhouse|row houses?",
        "house; terraced house; family home; cottage",
    ),
    _c("type", "silo", r"silos?|grain elevator", "grain silo; concrete silo"),
    _c(
        "type",
        "power station",
        r"power (?:station|plant)|generating station|cooling towers?",
        "power station; coal power plant",
    ),
    _c("type", "skyscraper", r"skyscrapers?|supertall", "skyscraper; supertall tower"),
    # --- trigger kind ---
    _c(
        "kind",
        "charges",
        r"charges?|explosives?|explosions?|explod\w*|blast\w*|blow(?:s|n|ing)?(?: up| out| down)?|detonat\w*"
        r"|dynamit\w*|tnt|thermite|cutting charges"
        r"|bomb\w*|shaped charges?|demolition charges?|controlled (?:demolition|explosions?|blasts?)|ignit\w*"
        r"|fires? the charges|boom",
        "explosive charges go off; the charges detonate; a blast rips through the ground floor;"
        " the building is blown up; dynamite",
    ),
    _c(
        "kind",
        "supports",
        r"supports?|columns?(?: \w+)? (?:fail|give|buckle|shear|snap|crumble|are cut|cut)|gives? way|giving way"
        r"|gave way|give out|gives out|structural failure|undermined|subsid\w*|foundations?|buckl\w*|wrecking ball"
        r"|earthquake|let go|lets go|knock(?:ed|s|ing)? out|excavators?|diggers?|bulldoz\w*|pulled down|undercut"
        r"|cables?|high - ?reach"
        r"|(?:are|is|get|gets|been) cut|sheared|pillars?|load - ?bearing",
        "the supports are cut; the columns give way; structural failure; the foundations fail;"
        " the load-bearing walls buckle; the pillars are knocked out",
    ),
    # --- collapse mode ---
    _c(
        "mode",
        "implode",
        r"implo\w*|straight down|vertically|into (?:its|their) (?:own )?footprints?|pancake\w*"
        r"|in on (?:itself|themselves)|into (?:itself|themselves)|drops? down|sinks?"
        r"|(?:comes|coming|came) straight down"
        r"|inwards?|(?:falls?|collapses?|drops?|crumbles?) straight|folds? (?:down|up|in)"
        r"|into (?:its|the|their) (?:own )?(?:basements?|foundations|cellars?|footprints?)"
        r"|like a (?:stone|lift|elevator)|straight to the ground"
        r"|vertical collapse|progressive collapse|concertina\w*|telescop\w*|caves? in|caving in|straight - ?down",
        "implodes; collapses straight down; falls into its own footprint; pancakes floor by floor;"
        " drops vertically; caves in on itself",
    ),
    _c(
        "mode",
        "topple",
        r"toppl\w*|tip(?:s|ped|ping)?(?! up| down)|keel\w* over|falls? (?:over|sideways)|fell over"
        r"|pitch(?:es|ed|ing)? over"
        r"|lurch\w*|capsiz\w*|felled"
        r"|falling over|lean\w*|tilt\w*(?! up| down| the camera)|timber|like a (?:felled )?tree|sideways|rolls? over"
        r"|goes over|keels?|folds? over|folding over|sways? and (?:falls|topples|goes)|sway\w*",
        "topples over; tips over sideways; keels over; leans and falls like a felled tree; tilts and crashes over",
    ),
    _c(
        "mode",
        "partial",
        r"(?:one|1) (?:\w+ )?corner|a corner of|corner (?:\w+ )?(?:gives|collapses|falls|drops|crumbles|shears|sags"
        r"|slumps|breaks)"
        r"|partial\w*|partly|(?:part|section|half|wing|chunk|slice) of the (?:building|block|tower|structure|facade)"
        r"|facade (?:peels|falls|slides|sloughs)|rest (?:of it )?(?:stays|remains) standing",
        "one corner collapses; part of the building falls away; a section of the facade gives way;"
        " only the corner crumbles; half the block stays standing",
    ),
    # --- side (keywords only: embeddings confuse left and right) ---
    _c(
        "side",
        "left",
        r"(?<!all )(?<!is )(?<!are )(?<!was )(?<!were )(?<!be )(?<!been )(?<!nothing )(?<!has )(?<!have )(?<!had )"
        r"(?:front|back|rear) - ?left(?: - ?hand)?(?: corner| side)?|"
        r"(?<!only )(?<!they )(?<!\bwho )(?<!\bwe )(?<!crew )(?<!\bhe )(?<!\bshe )"
        r"left(?:ward|wards| - ?hand)?(?! (?:standing|behind|over|intact|alone|of the camera|in frame|the|a|an|it"
        r"|them|us|town"
        r"|home|after|before|when|to (?:do|be|stand|fall|collapse))(?!\S))",
    ),
    _c(
        "side",
        "right",
        r"(?:front|back|rear) - ?right(?: - ?hand)?(?: corner| side)?|"
        r"(?:to|towards?|toward|on|onto) (?:the |its |their )?right(?: - ?hand)?(?: side)?|right - ?hand|rightwards?"
        r"|right (?:side|supports|columns|wall|corner|flank|edge)|(?<=and )right|(?<=or )right"
        r"|(?<!all )right(?! (?:away|now|before|after|as|on|at|into|in|through|there|here|then|when"
        r"|up|off|behind|next|above|below|over|across|under|of the camera|in frame|down|along|beside|by"
        r"|moment|time|angle|place|way|amount|spot|mood|outside|inside|enough|lens|light|onto|toward|towards|upon)"
        r"(?!\S))",
    ),
    _c(
        "side",
        "front",
        r"forwards?|towards? (?:the )?(?:camera|us|lens|viewer|audience|foreground|street|road)"
        r"|at (?:the )?(?:camera|lens)"
        r"|into the (?:street|road)|onto the (?:street|road)|(?:onto|over) (?:the )?(?:camera|us|lens)"
        r"|(?:front|forward) (?:side|supports|columns|wall|face|facade)"
        r"|to the front|on ?to us|face - ?first|face down|nose - ?first",
    ),
    _c(
        "side",
        "back",
        r"backwards?|away from (?:the )?(?:camera|us|lens|viewer|street|road)|to the (?:back|rear)"
        r"|(?:back|rear) (?:side|supports|columns|wall|face|facade)|rearwards?",
    ),
    # --- time of day ---
    _c("time", "dawn", r"dawn|daybreak|first light|break of day|pre - ?dawn", "dawn; first light; daybreak"),
    _c(
        "time",
        "sunrise",
        r"sunrise|sun ?up|rising sun|sun (?:\w+ )?(?:comes|coming|came|is|peeks|creeps) up|sun rises",
        "sunrise; as the sun comes up",
    ),
    _c("time", "morning", r"morning|a \. m \.|am light", "morning; early morning light"),
    _c(
        "time",
        "noon",
        r"noon|midday|mid - ?day|high sun|overhead sun|harsh sun|sun (?:directly )?overhead|middle of the day"
        r"|sun (?:\w+ )?high|lunch - ?time|sun (?:\w+ ){0,2}above",
        "noon; midday sun; harsh overhead sunlight",
    ),
    _c("time", "day", r"day|daytime|daylight|broad daylight", "daytime; broad daylight"),
    _c("time", "afternoon", r"afternoon|p \. m \.", "afternoon; late afternoon"),
    _c(
        "time",
        "golden hour",
        r"golden hour|magic hour|golden light|late light|low sun|warm (?:late )?light|late in the day"
        r"|(?:low on|near|clears?|just above) the horizon",
        "golden hour; magic hour; warm low golden sunlight",
    ),
    _c(
        "time",
        "sunset",
        r"sunset|sundown|setting sun|sun (?:\w+ )?(?:goes down|sets|dips|sinks|drops|slips)|below the horizon"
        r"|last light|sun (?:\w+ ){0,2}(?:set|gone down)",
        "sunset; as the sun goes down",
    ),
    _c("time", "dusk", r"dusk|twilight|nightfall|blue hour|gloaming", "dusk; twilight; nightfall; the blue hour"),
    _c("time", "evening", r"evening", "evening; early evening"),
    _c(
        "time",
        "night",
        r"night\w*|midnight|after dark|pitch (?:dark|black)|moonlit|moonlight|in the dark|darkness|floodlit|3 am",
        "night; at night; after dark under floodlights; moonlight",
    ),
    # --- weather ---
    _c(
        "weather",
        "overcast",
        r"overcast|cloudy|cloud - ?cover|low cloud|grey (?:sky|skies|day)|gray (?:sky|skies|day)|gloomy"
        r"|dull (?:sky|day|light|morning|afternoon)|flat light|leaden",
        "overcast; grey cloudy sky; dull flat light",
    ),
    _c("weather", "fog", r"fog\w*|mist[a-z]*(?! of)|haz[ey](?! of)", "fog; misty morning; thick haze"),
    _c("weather", "rain", r"rain\w*|drizzl\w*|storm\w*|downpour|wet", "rain; in a downpour; stormy"),
    _c(
        "weather",
        "clear",
        r"clear (?:sky|skies|day|blue sky)|cloudless|sunny|bright sun\w*|blue sk(?:y|ies)",
        "clear blue sky; sunny; cloudless day",
    ),
    # --- camera placement ---
    _c(
        "placement",
        "street level",
        r"street - ?level|eye - ?level|ground - ?level|on the ground|at ground level|from the street|pavement|sidewalk"
        r"|handheld|hand - ?held|(?:eye|head|chest|waist|shoulder|pavement|sidewalk) - ?height|from the ground|tripod",
        "at street level; eye-level camera; from the pavement; a handheld camera on the sidewalk",
    ),
    _c(
        "placement",
        "low angle",
        r"low - ?angle|worm 's - ?eye|looking up|from below|low to the ground|ground - ?hugging|from the gutter"
        r"|camera (?:is )?(?:placed |set )?low|low camera|from the floor of the street",
        "low angle; worm's-eye view looking up; camera low to the ground",
    ),
    _c(
        "placement",
        "across the street",
        r"across the (?:street|road|way|square|plaza|intersection)|opposite|other side of the (?:street|road)"
        r"|from the (?:far )?(?:kerb|curb)",
        "seen from across the street; from the other side of the road; camera on the pavement opposite",
    ),
    _c(
        "placement",
        "rooftop",
        r"roof ?tops?|(?:from|on|off) (?:a|the) roof|roof of|neighbouring roof|neighboring roof|balcony|window opposite"
        r"|(?:upper|upstairs|top - ?floor) windows?|window of a (?:flat|building|house|block)",
        "from a neighbouring rooftop; from a nearby roof; from an upper window",
    ),
    _c(
        "placement",
        "high angle",
        r"high - ?angle|from above|overhead|looking down|looks? down|peering down|top - ?down|elevated"
        r"|crane(?: shot)?|from a crane"
        r"|cherry picker"
        r"|camera (?:is )?(?:placed |set )?high|high camera",
        "high angle looking down; from above; elevated crane shot",
    ),
    _c(
        "placement",
        "aerial",
        r"aerial|bird 's - ?eye|from the air|(?:high|up) in the (?:sky|air)|balloon|blimp|airship|from the sky"
        r"|plane|airplane|aircraft",
        "aerial view; bird's-eye view; seen from the air",
    ),
    _c("placement", "drone", r"drones?|quadcopter|uav", "drone shot; a drone hovering nearby"),
    _c("placement", "helicopter", r"helicopter|chopper|heli", "helicopter shot; from a news chopper"),
    _c(
        "placement",
        "distant",
        r"from (?:a|the) distance|in the distance|distant|far away|from afar|far off|skyline"
        r"|across the (?:river|bay|city|valley|park|harbour|harbor|water|field)s?"
        r"|extreme wide|establishing|long shot|far shot",
        "seen from a distance; far away on the skyline; from across the river; extreme wide establishing shot",
    ),
    _c(
        "placement",
        "close",
        r"close - ?up|close to the|up close|at the base|at the foot|right next to|from the foot|tight on",
        "close-up; right at the foot of it; tight on the base",
    ),
    # --- dust ---
    _c(
        "dust",
        "none",
        r"no (?:dust|smoke)|without (?:any )?(?:dust|smoke)|dust - ?free|dustless|clean (?:collapse|fall)",
        "no dust; without any dust; a clean collapse with no dust",
    ),
    _c(
        "dust",
        "light",
        r"(?:light|little|thin|faint|minimal|a bit of|some wisps of|wispy|slight|small|modest|puffs? of|tiny"
        r"|barely any|hardly any|not much|a touch of) (?:(?!wall|tide|wave)\w+ ){0,2}(?:dust|smoke)"
        r"|(?:dust|smoke) (?:is )?(?:light|minimal|thin)",
        "light dust; a little dust; a thin haze of dust; wisps of dust",
    ),
    _c(
        "dust",
        "normal",
        r"(?:some|moderate|medium|normal|usual|average) (?:amount of |level of )?(?:dust|smoke)",
        "some dust; a moderate dust cloud",
    ),
    _c(
        "dust",
        "heavy",
        r"(?:heavy|heaps of|lots of|loads of|thick|dense|huge|massive|enormous|big|giant|great|billowing|a lot of"
        r"|choking|tons of|plenty of|vast|towering|immense|mushrooming|boiling|colossal|gigantic|monstrous)"
        r" (?:(?!wall|tide|wave)\w+ ){0,2}(?:dust|smoke|cloud|plume|clouds|plumes)"
        r"|(?:dust|smoke) (?:\w+ )?(?:billows|billowing|everywhere)|dusty|plumes? of (?:dust|smoke)"
        r"|(?:dust|smoke)(?: :| is| level| amount)? (?:heavy|thick|high|lots|a lot|maximum|max)",
        "heavy dust; a huge billowing dust cloud; thick choking dust; massive plumes of dust",
    ),
    _c(
        "dust",
        "engulfing",
        r"engulf\w*|swallow\w*|blots? out|wall of (?:dust|smoke)"
        r"|(?:dust|smoke) (?:\w+ ){0,2}(?:fills|floods|rolls|races|surges|sweeps|roars)"
        r"|(?:fills|floods) the (?:street|frame|screen|block)|(?:disappears|vanishes|lost|buried) (?:in"
        r"|under) (?:the |a )?dust|(?:white|brown|grey|gray) ?- ?out|pyroclastic"
        r"|tidal wave of",
        "the dust engulfs the street; a wall of dust swallows everything; the dust cloud rolls down the street"
        " and fills the frame",
    ),
    # --- lens (numbers such as 35mm are read by the grammar) ---
    _c(
        "lens",
        "ultra wide",
        r"ultra - ?wide|fish - ?eye|super - ?wide|extreme wide lens",
        "ultra wide lens; fisheye",
    ),
    _c(
        "lens",
        "wide",
        r"wide(?: - ?angle)?(?= (?:lens|shot|angle|frame|framing|view|establishing|master|of|on)\b| ?[,.;:!]|$)"
        r"|wide - ?angle|(?:very|super|go|on the|in a) wide",
        "wide angle lens; a wide shot",
    ),
    _c("lens", "normal", r"normal lens|standard lens|natural perspective", "normal lens; standard lens"),
    _c(
        "lens",
        "telephoto",
        r"telephoto|tele lens|long lens|long - ?lens|zoom lens|zoomed in|compressed|tight lens|long focal",
        "telephoto lens; a long lens compressing the street; zoomed in from far away",
    ),
)
