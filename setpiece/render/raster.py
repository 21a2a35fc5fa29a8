"""The rasteriser every preview image goes through (shots, boards): moderngl on headless EGL.

All parts live in one vertex buffer in their rest pose; each frame uploads one
rigid transform per part into a float texture that the vertex shader reads.
Static parts (ground, street, neighbours) carry their negative part id and
stay put. A frame is: sun shadow maps (the far one holds only the static
scenery and is kept while the sun and the shot centre stay; the near one is
redrawn only when something moved), a depth prepass, the opaque pass
(procedural materials from `materials.GLSL`, sun with shadows and the dust
cloud's shadow, sky irradiance from spherical harmonics, window reflections),
the glass pass into its own layer, then one resolve pass that box-filters the
supersamples, applies screen-space ambient occlusion to the sky light, lays
the glass over (or keeps it apart for the final backend), adds the haze of
distance (aerial perspective) and looks up the sky behind. Outputs
linear-light beauty plus alpha, depth, normal, part-id, motion, shadow, matte
and background passes; the final backend also reads the texture detail,
reflection, albedo and glass layers (`RasterFrame`) to dress its path tracing.

Speed (llvmpipe on 2 CPU cores: every triangle costs set-up and binning on
one thread): hidden parts are not drawn (one multi-draw of the visible runs),
closed meshes are drawn with back faces culled, and the targets hold only
what the caller reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from setpiece.artifacts import Passes
from setpiece.camera import Camera
from setpiece.errors import RenderError
from setpiece.geometry import Mesh
from setpiece.render.materials import GLASS, GLSL, NOISE_SIZE, face_albedo, noise_volume, texture_uniforms
from setpiece.render.sky import flat_sky

TEX_COLS = 256  # parts per texture row (4 texels each)
SHADOW_SIZE = 2048
FAR_SHADOW_SIZE = 1024
FAR_SHADOW_RADIUS = 120.0  # m around the target: neighbours' shadows on the street
MAX_SUPERSAMPLED_PIXELS = 1920 * 1080
GROUND_ID = -2
AO_RADIUS = 1.1  # m
AO_STRENGTH = 0.9
PLAIN = -1  # material id: the mesh colour as is (boards, mannequins)
FLOATS = 13  # pos 3, normal 3, colour 3, part, exposure, material, broken or variant code

_VERT = """
#version 330
uniform sampler2D xforms;
uniform sampler2D xforms_prev;
uniform mat4 view_proj;
uniform mat4 view_proj_prev;
in vec3 in_pos; in vec3 in_normal; in vec3 in_color; in float in_part; in float in_exposure;
in float in_mat; in float in_broken;
// per-face values are flat (faces are flat-shaded): no interpolation to pay for
out vec3 v_world; flat out vec3 v_normal; flat out vec3 v_color; flat out int v_part; out float v_exposure;
out vec3 v_rest; flat out vec3 v_nrest; flat out int v_mat; flat out float v_broken;
out vec4 v_clip_prev;
mat4 part_matrix(sampler2D tex, int part) {
    if (part < 0) return mat4(1.0);
    int col = (part % %COLS%) * 4, row = part / %COLS%;
    return mat4(texelFetch(tex, ivec2(col, row), 0), texelFetch(tex, ivec2(col + 1, row), 0),
                texelFetch(tex, ivec2(col + 2, row), 0), texelFetch(tex, ivec2(col + 3, row), 0));
}
void main() {
    int part = int(floor(in_part + 0.5));
    mat4 m = part_matrix(xforms, part);
    vec4 world = m * vec4(in_pos, 1.0);
    v_clip_prev = view_proj_prev * (part_matrix(xforms_prev, part) * vec4(in_pos, 1.0));
    v_world = world.xyz; v_normal = mat3(m) * in_normal; v_color = in_color;
    v_rest = in_pos; v_nrest = in_normal; v_mat = int(floor(in_mat + 0.5)); v_broken = in_broken;
    // fragments that have left their rest place are out in the open air
    v_part = part; v_exposure = mix(in_exposure, 1.0, clamp(length(world.xyz - in_pos) * 0.12, 0.0, 1.0));
    gl_Position = view_proj * world;
}
"""

_COMMON = """
#version 330
#define PI 3.14159265
uniform sampler2DShadow shadow_map;
uniform sampler2DShadow shadow_far;  // a coarser map of the static scenery over the whole neighbourhood
uniform mat4 light_far;
uniform sampler2D sky_map;
uniform sampler3D dust_shadow;  // the dust's sun transmittance over its box (clear air outside)
uniform vec3 dust_lo; uniform vec3 dust_scale;  // box corner, 1 / box size
uniform int dust_on;
uniform mat4 light_view_proj;
uniform mat4 view;
uniform vec3 eye;
uniform vec3 sun_dir; uniform vec3 sun_color;
uniform vec3 sh[9];
uniform vec2 viewport;
uniform vec2 target_size;  // pixels of the (supersampled) target
in vec3 v_world; flat in vec3 v_normal; flat in vec3 v_color; flat in int v_part; in float v_exposure;
in vec3 v_rest; flat in vec3 v_nrest; flat in int v_mat; flat in float v_broken;
in vec4 v_clip_prev;
float pcf(sampler2DShadow map, vec3 s, float texel, float bias) {
    // four bilinear-filtered compares: a soft 3x3-texel footprint
    float sum = 0.0;
    for (int i = 0; i < 4; i++) {
        vec2 o = (vec2(i % 2, i / 2) - 0.5) * texel;
        sum += texture(map, vec3(s.xy + o, s.z - bias));
    }
    return sum / 4.0;
}
bool inside_map(vec3 s) { return all(greaterThan(s.xy, vec2(0.0))) && all(lessThan(s.xy, vec2(1.0))); }
float sun_visibility(vec3 n) {
    vec4 p = light_view_proj * vec4(v_world + n * 0.03, 1.0);
    vec3 s = p.xyz / p.w * 0.5 + 0.5;
    if (inside_map(s)) return pcf(shadow_map, s, 1.0 / %SHADOW%.0, 0.0015);
    p = light_far * vec4(v_world + n * 0.15, 1.0);
    s = p.xyz / p.w * 0.5 + 0.5;
    if (inside_map(s)) return pcf(shadow_far, s, 1.0 / %FARSHADOW%.0, 0.002);
    return 1.0;
}
// the share of sunlight the dust cloud lets through to this point (trilinear over its cells)
float dust_transmittance(vec3 p) {
    vec3 u = (p - dust_lo) * dust_scale;
    bool inside = dust_on != 0 && all(greaterThanEqual(u, vec3(0.0))) && all(lessThanEqual(u, vec3(1.0)));
    return inside ? texture(dust_shadow, u).r : 1.0;
}
vec3 sky_radiance(vec3 d) {
    float u = fract(atan(d.x, d.y) / (2.0 * PI));
    float v = acos(clamp(d.z, -1.0, 1.0)) / PI;
    return texture(sky_map, vec2(u, v)).rgb;
}
vec3 sky_irradiance(vec3 n) {
    vec3 e = sh[0] * 0.282095 + sh[1] * 0.488603 * n.y + sh[2] * 0.488603 * n.z + sh[3] * 0.488603 * n.x
        + sh[4] * 1.092548 * n.x * n.y + sh[5] * 1.092548 * n.y * n.z + sh[6] * 0.315392 * (3.0 * n.z * n.z - 1.0)
        + sh[7] * 1.092548 * n.x * n.z + sh[8] * 0.546274 * (n.x * n.x - n.y * n.y);
    return max(e, vec3(0.0));
}
float fresnel(float cosv) { return 0.04 + 0.96 * pow(1.0 - clamp(cosv, 0.0, 1.0), 5.0); }
"""

# The opaque pass writes only what the resolve reads: 4 targets, 7 with the final backend's layers.
# What the resolve box-filters (light, coverage, ground shadow, matte) sits in targets cleared to
# zero, so one bilinear fetch at the centre of a pixel's 2 x 2 samples is their mean; what it
# point-samples (normal, id, depth, motion) is read only where the first sample was drawn.
_FRAG = (
    _COMMON
    + GLSL
    + """
layout(location = 0) out vec4 out_direct;  // sun light and reflections, coverage
layout(location = 1) out vec4 out_ambient; // sky light before occlusion, ground shadow (1 - sun on the ground)
layout(location = 2) out vec4 out_normal;  // world normal, part id
layout(location = 3) out vec4 out_motion;  // px moved since the last frame (x right, y down), view depth, matte
#ifdef LAYERS
layout(location = 4) out vec4 out_detail;  // textured / base albedo, sun light the dust took (luminance)
layout(location = 5) out vec4 out_spec;    // reflections (added after lighting)
layout(location = 6) out vec4 out_albedo;  // textured albedo (the denoiser's guide)
#endif
void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    float window = 0.0;
    vec3 albedo = v_mat < 0 ? v_color
        : material_albedo(v_mat, v_rest, normalize(v_nrest), v_color, v_broken > 0.5 && v_broken < 1.5,
                          v_broken >= 2.0 ? v_broken - 2.0 : 0.5, window);
    float ndl = max(dot(n, sun_dir), 0.0);
    float dust = dust_transmittance(v_world);
    float shadow_map = sun_visibility(n);
    float visible = shadow_map * dust;
    // radiometry as in the final backend: Lambert 1/pi on sun irradiance and sky irradiance
    vec3 sun = albedo * sun_color * ndl / PI;
    vec3 direct = sun * visible;
    vec3 ambient = albedo * sky_irradiance(n) / PI * v_exposure;
    vec3 view_dir = normalize(v_world - eye);
    vec3 r = reflect(view_dir, n);
    float f = fresnel(dot(-view_dir, n));
    vec3 spec = window * f * (sky_radiance(r) + sun_color * visible * pow(max(dot(r, sun_dir), 0.0), 400.0) * 40.0);
    out_direct = vec4(direct + spec, 1.0);
    out_ambient = vec4(ambient, v_part < -1 ? 1.0 - visible : 0.0);
    out_normal = vec4(n, float(v_part));
    // a part hidden last frame (zero transform) has no previous position: no motion
    vec2 ndc = gl_FragCoord.xy / target_size * 2.0 - 1.0;
    vec2 moved = v_clip_prev.w > 1e-6 ? ndc - v_clip_prev.xy / v_clip_prev.w : vec2(0.0);
    float depth = -(view * vec4(v_world, 1.0)).z;
    out_motion = vec4(moved * 0.5 * viewport * vec2(1.0, -1.0), depth, v_part >= 0 ? 1.0 : 0.0);
#ifdef LAYERS
    float taken = dot(sun * shadow_map * (1.0 - dust), vec3(0.2126, 0.7152, 0.0722));
    out_detail = vec4(albedo / max(v_color, vec3(1e-3)), taken);
    out_spec = vec4(spec, 1.0);
    out_albedo = vec4(albedo, 1.0);
#endif
}
"""
)

_GLASS_FRAG = (
    _COMMON
    + """
layout(location = 0) out vec4 out_glass;  // premultiplied: reflection, opacity
void main() {
    vec3 n = normalize(v_normal);
    vec3 view_dir = normalize(v_world - eye);
    if (dot(n, view_dir) > 0.0) n = -n;
    float cosv = dot(-view_dir, n);
    float f = fresnel(cosv);
    vec3 r = reflect(view_dir, n);
    float visible = sun_visibility(n) * dust_transmittance(v_world);
    vec3 glint = sun_color * visible * pow(max(dot(r, sun_dir), 0.0), 800.0) * 60.0;
    // a little dirt on the pane scatters light; the rest passes through, slightly green
    vec3 light = sky_irradiance(n) * v_exposure + sun_color * max(dot(n, sun_dir), 0.0) * visible;
    vec3 dirt = vec3(0.05, 0.05, 0.045) * light / PI;
    float opacity = f + (1.0 - f) * 0.28;
    out_glass = vec4(f * (sky_radiance(r) + glint) + dirt, opacity);
}
"""
)

_SHADOW_FRAG = "#version 330\nvoid main() {}\n"

_QUAD_VERT = """
#version 330
in vec2 in_xy;
void main() { gl_Position = vec4(in_xy, 0.0, 1.0); }
"""

# Supersamples down to the output size in one pass: box-filtered light with screen-space ambient
# occlusion on the sky light, point-sampled AOVs (the first sample of each pixel), the glass laid
# over (or kept apart), the haze of distance and the sky behind. The box filter is one bilinear
# fetch at the centre of the pixel's ss x ss samples (ss is 1 or 2).
_RESOLVE_FRAG = """
#version 330
#define PI 3.14159265
uniform sampler2D direct_tex; uniform sampler2D ambient_tex; uniform sampler2D normal_tex;
uniform sampler2D motion_tex; uniform sampler2D glass_tex; uniform sampler2D sky_map;
#ifdef LAYERS
uniform sampler2D detail_tex; uniform sampler2D spec_tex; uniform sampler2D albedo_tex;
#endif
uniform int ss; uniform int has_glass; uniform int glass_over; uniform int haze;
uniform float haze_distance; uniform float motion_limit;
uniform mat4 view; uniform vec2 tan_half; uniform float radius; uniform float strength;
uniform vec4 ao_kernel[8];  // sample directions (unit) and lengths
uniform vec3 cam_right; uniform vec3 cam_up; uniform vec3 cam_forward; uniform vec2 out_size;
layout(location = 0) out vec4 o_beauty;
layout(location = 1) out vec4 o_aux;     // normal, part id (-1: nothing)
layout(location = 2) out vec4 o_extra;   // motion (point), ground shadow (box), matte (box)
layout(location = 3) out vec4 o_sky;     // sky behind, view depth (0: nothing)
layout(location = 4) out vec4 o_glass;
#ifdef LAYERS
layout(location = 5) out vec4 o_detail;  // textured / base albedo, share of the light the dust left
layout(location = 6) out vec4 o_spec;
layout(location = 7) out vec4 o_albedo;
#endif
float hash13(vec3 p) { p = fract(p * 0.1031); p += dot(p, p.zyx + 31.32); return fract((p.x + p.y) * p.z); }
vec3 view_pos(vec2 px, float d) {
    vec2 ndc = px / out_size * 2.0 - 1.0;
    return vec3(ndc * tan_half * d, -d);
}
vec3 sky_radiance(vec3 d) {
    float u = fract(atan(d.x, d.y) / (2.0 * PI));
    float v = acos(clamp(d.z, -1.0, 1.0)) / PI;
    return texture(sky_map, vec2(u, v)).rgb;
}
// hemisphere samples around the pixel's view-space point: a fixed kernel turned per pixel
// (reflected about a random unit vector, lengths shifted by a random offset)
float ambient_occlusion(ivec2 px, float d, vec3 world_n) {
    vec3 p = view_pos(vec2(px) + 0.5, d);
    vec3 n = normalize(mat3(view) * world_n);
    vec3 h = vec3(hash13(vec3(gl_FragCoord.xy, 0.0)), hash13(vec3(gl_FragCoord.yx, 17.0)),
                  hash13(vec3(gl_FragCoord.xy * 1.7, 31.0)));
    vec3 turn = normalize(h * 2.0 - 1.0 + 1e-4);
    float occ = 0.0;
    // two scales: creases and contact (radius) and the street canyon (8 x radius)
    for (int i = 0; i < 8; i++) {
        float r = i < 5 ? radius : radius * 8.0;
        vec3 s = reflect(ao_kernel[i].xyz, turn);
        if (dot(s, n) < 0.0) s = -s;
        float t = fract(ao_kernel[i].w + h.x);
        s = p + (s + n * 0.15) * r * (0.25 + 0.75 * t * t);
        if (s.z >= -0.05) continue;
        vec2 q = (s.xy / (-s.z * tan_half) * 0.5 + 0.5) * out_size;
        if (any(lessThan(q, vec2(0.0))) || any(greaterThanEqual(q, out_size))) continue;
        float sd = texelFetch(motion_tex, ivec2(q) * ss, 0).z;
        if (sd <= 0.0) continue;
        float gap = -s.z - sd;
        if (gap > 0.03) occ += smoothstep(0.0, 1.0, r / max(abs(d - sd), 1e-3));
    }
    return 1.0 - strength * occ / 8.0;
}
void main() {
    ivec2 px = ivec2(gl_FragCoord.xy);
    vec2 uv = gl_FragCoord.xy / out_size;  // the centre of this pixel's samples
    vec4 m0 = texelFetch(motion_tex, px * ss, 0);
    float depth = m0.z;
    vec4 n0 = texelFetch(normal_tex, px * ss, 0);
    float ao = depth > 0.0 ? ambient_occlusion(px, depth, n0.xyz) : 1.0;
    vec4 direct = texture(direct_tex, uv);
    vec4 ambient = texture(ambient_tex, uv);
    vec4 beauty = vec4(direct.rgb + ambient.rgb * ao, direct.a);
    vec4 glass = has_glass != 0 ? texture(glass_tex, uv) : vec4(0.0);
    if (glass_over != 0) beauty.rgb = glass.rgb + (1.0 - glass.a) * beauty.rgb;
    // the camera ray through this output pixel's centre (as Camera.rays)
    vec2 ndc = uv * 2.0 - 1.0;
    vec3 ray = normalize(cam_forward + ndc.x * tan_half.x * cam_right + ndc.y * tan_half.y * cam_up);
    if (haze != 0 && depth > 0.0) {
        // distant surfaces fade into the sky's in-scattered light (as sky.aerial_perspective)
        float fade = 1.0 - exp(-depth / max(dot(ray, cam_forward), 1e-3) / haze_distance);
        vec3 flat_ray = normalize(vec3(ray.xy, clamp(ray.z, 0.03, 0.3)));
        beauty.rgb = beauty.rgb * (1.0 - fade) + sky_radiance(flat_ray) * fade * beauty.a;
    }
    o_beauty = beauty;
    o_aux = depth > 0.0 ? n0 : vec4(0.0, 0.0, 0.0, -1.0);
    vec2 m = depth > 0.0 ? m0.xy : vec2(0.0);
    // parts that just appeared or sit behind the camera have no sensible motion (NaN fails too)
    if (!(abs(m.x) <= motion_limit && abs(m.y) <= motion_limit)) m = vec2(0.0);
    o_extra = vec4(m, 1.0 - ambient.a, texture(motion_tex, uv).w);
    o_sky = vec4(sky_radiance(ray), depth);
    o_glass = glass;
#ifdef LAYERS
    vec4 detail = texture(detail_tex, uv);
    o_spec = texture(spec_tex, uv);
    o_albedo = texture(albedo_tex, uv);
    // share of this pixel's light left after the dust's shadow (1: no dust in the sun's way)
    float lit = dot(direct.rgb + ambient.rgb * ao, vec3(0.2126, 0.7152, 0.0722));
    o_detail = vec4(detail.rgb, lit > 0.0 ? lit / (lit + detail.a) : 1.0);
#endif
}
"""


def _ao_kernel(seed: int = 8) -> np.ndarray:
    """(8, 4): unit directions and length offsets for the AO's samples (fixed: part of the look)."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(8, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    return np.c_[dirs, rng.random(8)].astype(np.float32)


@dataclass
class RasterFrame:
    """One rasterised frame: the passes plus the layers the final backend composes with."""

    passes: Passes
    glass: np.ndarray | None  # (H, W, 4) premultiplied glass layer; None when laid over the beauty already
    detail: np.ndarray | None = None  # (H, W, 3) textured / base albedo of the visible surface
    spec: np.ndarray | None = None  # (H, W, 3) reflections added after lighting (windows)
    albedo: np.ndarray | None = None  # (H, W, 3) textured albedo of the visible surface
    dust_shade: np.ndarray | None = None  # (H, W) share of the surface's light left by the dust's shadow


@dataclass
class _Ranges:
    """Where each kind of triangle lies in the vertex buffer (first vertex, count). Objects
    are the scenery meshes that cast shadows, then the parts."""

    flat: tuple[int, int]  # scenery that casts no shadow (ground, paving)
    closed: np.ndarray  # (n_objects, 2) each object's opaque triangles when its mesh is closed
    open: np.ndarray  # (n_objects, 2) ... when it is not (seen from behind too)
    glass: np.ndarray  # (n_objects, 2) each object's glass
    n_static: int  # objects before the parts
    centres: np.ndarray  # (n_objects, 3) bounding spheres: world (scenery) or rest (parts) centres
    radii: np.ndarray  # (n_objects,)

    def static_block(self, spans: np.ndarray) -> tuple[int, int]:
        """The scenery's share of a group (contiguous: it comes first)."""
        if not self.n_static:
            return (0, 0)
        return int(spans[0, 0]), int(spans[: self.n_static, 1].sum())


class PreviewRenderer:
    """Rasteriser for a fixed set of rigid parts (fragments, props, mannequins) and static scenery."""

    def __init__(
        self,
        parts: list[Mesh],
        exposure: list[np.ndarray] | None = None,
        ground_color=(0.2, 0.19, 0.18),
        ground_size: float = 400.0,
        supersample: int = 2,
        static: list[Mesh] | None = None,
        sky=None,
    ):
        """static: scenery meshes with meta part_id (negative); None lays a plain ground
        (id -2) of ground_color and ground_size. sky: a `sky.Sky`, or None for a flat
        sky of the colour given to each render call."""
        try:
            import moderngl

            self.ctx = moderngl.create_standalone_context(backend="egl")
        except Exception as err:  # the driver stack raises many types
            raise RenderError(
                "preview renderer needs headless OpenGL (EGL): install libegl1 libgl1-mesa-dri "
                f"libegl-mesa0 (see README). Driver said: {err}"
            ) from None
        if supersample not in (1, 2):
            raise RenderError(f"supersample must be 1 or 2 samples a side, not {supersample}")
        self.ss = supersample
        self.n_parts = len(parts)
        self.sky = sky
        self._mgl = moderngl
        self._programs()
        if static is None:
            static = [_plain_ground(ground_color, ground_size)]
        data, self.ranges = _vertex_data(parts, exposure, static)
        self.vbo = self.ctx.buffer(data.tobytes())
        layout = "3f 3f 3f 1f 1f 1f 1f"
        names = ["in_pos", "in_normal", "in_color", "in_part", "in_exposure", "in_mat", "in_broken"]
        self.vao = {
            k: self.ctx.vertex_array(prog, [(self.vbo, layout, *names)], skip_errors=True)
            for k, prog in self.progs.items()
        }
        self.glass_vao = self.ctx.vertex_array(self.glass_prog, [(self.vbo, layout, *names)], skip_errors=True)
        self.shadow_vao = self.ctx.vertex_array(self.shadow_prog, [(self.vbo, "3f 24x 1f 12x", "in_pos", "in_part")])
        quad = self.ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], np.float32).tobytes())
        self.resolve_vao = {k: self.ctx.vertex_array(p, [(quad, "2f", "in_xy")]) for k, p in self.resolve.items()}
        noise = noise_volume()
        self.noise_tex = self.ctx.texture3d(noise.shape, 1, noise.tobytes(), dtype="f4")
        self.noise_tex.repeat_x = self.noise_tex.repeat_y = self.noise_tex.repeat_z = True
        self.noise_tex.build_mipmaps()
        self.noise_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        rows = max(1, -(-self.n_parts // TEX_COLS))
        self.xform_tex = self.ctx.texture((TEX_COLS * 4, rows), 4, dtype="f4")
        self.xform_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.prev_tex = self.ctx.texture((TEX_COLS * 4, rows), 4, dtype="f4")
        self.prev_tex.filter = (moderngl.NEAREST, moderngl.NEAREST)
        self.shadow_tex, self.shadow_fbo = self._depth_map(SHADOW_SIZE)
        self.far_tex, self.far_fbo = self._depth_map(FAR_SHADOW_SIZE)
        # one buffer per draw list, written once a frame before any draw reads it
        lists = ("closed", "open", "glass", "shadow_closed", "shadow_open")
        self._draws = {k: self.ctx.buffer(reserve=20 * (len(self.ranges.radii) + 1)) for k in lists}
        self._counts = dict.fromkeys(self._draws, 0)
        self._near_key = self._far_key = None
        self._dust_tex = self.ctx.texture3d((1, 1, 1), 1, np.ones(1, np.float32).tobytes(), dtype="f4")
        self._dust = None  # (lo, scale) of the current dust shadow, None: clear air
        self._sky_key = None
        self._fbo_size = None

    def _programs(self) -> None:
        vert = _VERT.replace("%COLS%", str(TEX_COLS))

        def fill(src: str, defines: str = "") -> str:
            src = (
                src.replace("%SHADOW%", str(SHADOW_SIZE))
                .replace("%FARSHADOW%", str(FAR_SHADOW_SIZE))
                .replace("%NOISE%", str(NOISE_SIZE))
            )
            return src.replace("#version 330\n", "#version 330\n" + defines, 1)

        self.progs = {k: self.ctx.program(vertex_shader=vert, fragment_shader=fill(_FRAG, d)) for k, d in _VARIANTS}
        for prog in self.progs.values():
            for name, table in texture_uniforms().items():
                if name in prog:
                    prog[name].write(table.tobytes())
        self.glass_prog = self.ctx.program(vertex_shader=vert, fragment_shader=fill(_GLASS_FRAG))
        self.shadow_prog = self.ctx.program(vertex_shader=vert, fragment_shader=_SHADOW_FRAG)
        self.resolve = {
            k: self.ctx.program(vertex_shader=_QUAD_VERT, fragment_shader=fill(_RESOLVE_FRAG, d)) for k, d in _VARIANTS
        }

    def _depth_map(self, size: int):
        tex = self.ctx.depth_texture((size, size))
        tex.compare_func = "<="
        tex.filter = (self._mgl.LINEAR, self._mgl.LINEAR)
        return tex, self.ctx.framebuffer(depth_attachment=tex)

    def render(
        self,
        camera: Camera,
        transforms: np.ndarray | None,
        sun_dir,
        sun_color,
        sky_color,
        scene_radius: float = 60.0,
        previous: np.ndarray | None = None,
        previous_camera: Camera | None = None,
    ) -> Passes:
        """Draw one frame; transforms is (n_parts, 4, 4) world-from-rest, or None for rest pose;
        previous (the last frame's transforms) and previous_camera give the motion pass."""
        frame = self.render_frame(
            camera, transforms, sun_dir, sun_color, sky_color, scene_radius, previous, previous_camera, glass_over=True
        )
        return frame.passes

    def render_frame(
        self,
        camera: Camera,
        transforms: np.ndarray | None,
        sun_dir,
        sun_color,
        sky_color,
        scene_radius: float = 60.0,
        previous: np.ndarray | None = None,
        previous_camera: Camera | None = None,
        layers: bool = False,
        glass_over: bool = False,
        haze: bool = False,
        dust_shadow: tuple | None = None,
        centre=None,
    ) -> RasterFrame:
        """The frame's passes (beauty without glass) and its glass layer; with layers, also
        the texture detail, reflection, albedo and dust-shade layers. glass_over: the glass
        is laid over the beauty (and no glass layer returned). haze: aerial perspective
        (as `sky.aerial_perspective`) on the beauty. dust_shadow: (T, bounds_min, bounds_max)
        of `fx.volume.dust_sun_transmittance`, the dust cloud's shadow on the sun light.
        centre: where the sun's shadow maps are centred (default the camera target; give
        the unshaken target so a shaking camera does not make the shadows swim)."""
        if transforms is None:
            transforms = np.broadcast_to(np.eye(4), (self.n_parts, 4, 4))
        with self.ctx:  # several renderers may be alive: draw in this one's context
            self._upload(self.xform_tex, transforms)
            self._upload(self.prev_tex, transforms if previous is None else previous)
            self._use_sky(sky_color)
            self._use_dust(dust_shadow)
            self._draw_lists(transforms, camera.projection_matrix() @ camera.view_matrix())
            sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
            centre = np.asarray(camera.target if centre is None else centre, float)
            light_vp = _light_matrix(sun_dir, centre, scene_radius)
            self._light_far = _light_matrix(sun_dir, centre, max(FAR_SHADOW_RADIUS, scene_radius))
            self._far_shadow()
            self._near_shadow(light_vp, transforms)
            self._camera_pass(camera, previous_camera or camera, light_vp, sun_dir, sun_color, layers)
            return self._read(camera, layers, glass_over, haze)

    def _use_sky(self, sky_color) -> None:
        sky = self.sky if self.sky is not None else flat_sky(tuple(np.asarray(sky_color, float)))
        if self._sky_key is not sky:
            rad = np.ascontiguousarray(sky.radiance, np.float32)
            self.sky_tex = self.ctx.texture((rad.shape[1], rad.shape[0]), 3, rad.tobytes(), dtype="f4")
            self.sky_tex.filter = (self._mgl.LINEAR, self._mgl.LINEAR)
            self.sky_tex.repeat_y = False
            self._sh = sky.sh
            self._sky_key = sky

    def _use_dust(self, dust_shadow) -> None:
        """The dust's sun transmittance as a 3D texture (cell centres at texel centres, so
        the linear filter is `fx.volume.sample_sun_transmittance`'s trilinear look-up)."""
        if dust_shadow is None:
            self._dust = None
            return
        trans, lo, hi = dust_shadow
        data = np.ascontiguousarray(np.transpose(np.asarray(trans, np.float32), (2, 1, 0)))  # x fastest
        size = tuple(trans.shape)
        if self._dust_tex.size != size:
            self._dust_tex.release()
            self._dust_tex = self.ctx.texture3d(size, 1, dtype="f4")
            self._dust_tex.filter = (self._mgl.LINEAR, self._mgl.LINEAR)
            self._dust_tex.repeat_x = self._dust_tex.repeat_y = self._dust_tex.repeat_z = False
        self._dust_tex.write(data.tobytes())
        lo, hi = np.asarray(lo, float), np.asarray(hi, float)
        self._dust = (tuple(map(float, lo)), tuple(map(float, 1.0 / np.maximum(hi - lo, 1e-9))))

    def _upload(self, tex, transforms: np.ndarray) -> None:
        rows = tex.height
        buf = np.zeros((rows * TEX_COLS, 4, 4), np.float32)
        # column-major: each texel is one matrix column
        buf[: self.n_parts] = np.transpose(transforms, (0, 2, 1))
        buf = buf.reshape(rows, TEX_COLS, 4, 4).reshape(rows, TEX_COLS * 4, 4)
        tex.write(np.ascontiguousarray(buf).tobytes())

    def _draw_lists(self, transforms: np.ndarray, view_proj: np.ndarray) -> None:
        """Indirect draw commands for this frame: the shadow maps draw every object shown, the
        camera those of them inside its view. A hidden part has a zero linear part (the sim's
        parts not yet thrown or gone, boards' unused props)."""
        r = self.ranges
        xf = np.asarray(transforms, float)
        shown = np.ones(len(r.radii), bool)
        centres = r.centres.copy()
        if self.n_parts:
            shown[r.n_static :] = np.any(xf[:, :3, :3] != 0, axis=(1, 2))
            parts = r.centres[r.n_static :]
            centres[r.n_static :] = np.einsum("nij,nj->ni", xf[:, :3, :3], parts) + xf[:, :3, 3]
        seen = shown & _in_view(view_proj, centres, r.radii)
        lists = {
            "shadow_closed": _runs(r.closed, shown),
            "shadow_open": _runs(r.open, shown),
            "closed": _runs(r.closed, seen),
            "open": _runs(r.open, seen),
            "glass": _runs(r.glass, seen),
        }
        for key, spans in lists.items():
            cmds = np.zeros((len(spans), 5), np.uint32)  # count, instances, first, base instance, pad
            if spans:
                cmds[:, [2, 0]] = np.asarray(spans, np.int64).reshape(-1, 2)
                cmds[:, 1] = 1
            cmds = cmds[cmds[:, 0] > 0]
            self._counts[key] = len(cmds)
            if len(cmds):
                self._draws[key].write(cmds.tobytes())

    def _draw(self, vao, key: str) -> None:
        if self._counts[key]:
            vao.render_indirect(self._draws[key], count=self._counts[key])

    def _draw_opaque(self, vao, lists: str = "") -> None:
        """Closed meshes with back faces culled (they hide them anyway), then the rest."""
        self.ctx.enable(self._mgl.CULL_FACE)
        self._draw(vao, lists + "closed")
        self.ctx.disable(self._mgl.CULL_FACE)
        self._draw(vao, lists + "open")

    def _far_shadow(self) -> None:
        """The coarse map of the static scenery, drawn again only when the light moves."""
        key = self._light_far.tobytes()
        if key == self._far_key:
            return
        self._begin_shadow(self.far_fbo, self._light_far)
        closed, opened = self.ranges.static_block(self.ranges.closed), self.ranges.static_block(self.ranges.open)
        self.ctx.enable(self._mgl.CULL_FACE)
        if closed[1]:
            self.shadow_vao.render(first=closed[0], vertices=closed[1])
        self.ctx.disable(self._mgl.CULL_FACE)
        if opened[1]:
            self.shadow_vao.render(first=opened[0], vertices=opened[1])
        self._far_key = key

    def _near_shadow(self, light_vp: np.ndarray, transforms: np.ndarray) -> None:
        """The fine map of everything near the shot, drawn again only when something moved."""
        key = (light_vp.tobytes(), np.asarray(transforms, np.float32).tobytes())
        if key == self._near_key:
            return
        self._begin_shadow(self.shadow_fbo, light_vp)
        self._draw_opaque(self.shadow_vao, "shadow_")
        self._near_key = key

    def _begin_shadow(self, fbo, light_vp: np.ndarray) -> None:
        fbo.use()
        fbo.clear(depth=1.0)
        self.ctx.enable(self._mgl.DEPTH_TEST)
        self.ctx.disable(self._mgl.CULL_FACE | self._mgl.BLEND)
        self.xform_tex.use(0)
        self.shadow_prog["xforms"] = 0
        self.shadow_prog["view_proj"].write(_gl(light_vp))

    def _set_common(self, prog, cam: Camera, prev_cam: Camera, light_vp, sun_dir, sun_color) -> None:
        view = cam.view_matrix()
        units = {
            "xforms": self.xform_tex,
            "xforms_prev": self.prev_tex,
            "shadow_map": self.shadow_tex,
            "sky_map": self.sky_tex,
            "noise_tex": self.noise_tex,
            "shadow_far": self.far_tex,
            "dust_shadow": self._dust_tex,
        }
        for unit, (name, tex) in enumerate(units.items()):
            if name in prog:
                tex.use(unit)
                prog[name].value = unit
        lo, scale = self._dust or ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0))
        values = {
            "viewport": (float(cam.width), float(cam.height)),
            "target_size": (float(cam.width * self._ss_now), float(cam.height * self._ss_now)),
            "eye": tuple(map(float, cam.position)),
            "sun_dir": tuple(sun_dir),
            "sun_color": tuple(map(float, sun_color)),
            "dust_on": int(self._dust is not None),
            "dust_lo": lo,
            "dust_scale": scale,
        }
        for name, value in values.items():
            if name in prog:
                prog[name].value = value
        matrices = {
            "view_proj": cam.projection_matrix() @ view,
            "view_proj_prev": prev_cam.projection_matrix() @ prev_cam.view_matrix(),
            "view": view,
            "light_view_proj": light_vp,
            "light_far": self._light_far,
        }
        for name, m in matrices.items():
            if name in prog:
                prog[name].write(_gl(m))
        if "sh" in prog:
            prog["sh"].write(np.ascontiguousarray(self._sh, np.float32).tobytes())

    def _camera_pass(self, cam: Camera, prev_cam: Camera, light_vp, sun_dir, sun_color, layers: bool) -> None:
        # above 1080p the pixels are fine enough; supersampling would need 4x the memory
        ss = self.ss if cam.width * cam.height <= MAX_SUPERSAMPLED_PIXELS else 1
        self._framebuffers(cam.width, cam.height, ss, layers)
        mgl = self.ctx
        self._clear_fbo.use()  # depth and the box-filtered targets; normals are read only where drawn
        self._clear_fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        self._fbo.use()
        mgl.enable(self._mgl.DEPTH_TEST)
        mgl.disable(self._mgl.BLEND)
        # depth first, so the material shader runs once per visible sample
        self._set_common(self.shadow_prog, cam, prev_cam, light_vp, sun_dir, sun_color)
        mgl.color_mask = (False, False, False, False)
        flat_first, flat_count = self.ranges.flat
        if flat_count:
            self.shadow_vao.render(first=flat_first, vertices=flat_count)
        self._draw_opaque(self.shadow_vao)
        mgl.color_mask = (True, True, True, True)
        mgl.depth_func = "<="
        mgl.depth_mask = False
        prog = self.progs["layers" if layers else "plain"]
        vao = self.vao["layers" if layers else "plain"]
        self._set_common(prog, cam, prev_cam, light_vp, sun_dir, sun_color)
        if flat_count:
            vao.render(first=flat_first, vertices=flat_count)
        self._draw_opaque(vao)
        mgl.depth_func = "<"
        # glass over everything opaque, into its own layer
        if self._counts["glass"]:
            self._glass_fbo.use()
            self._glass_fbo.clear(0.0, 0.0, 0.0, 0.0)
            mgl.enable(self._mgl.BLEND)
            mgl.blend_func = (self._mgl.ONE, self._mgl.ONE_MINUS_SRC_ALPHA)
            self._set_common(self.glass_prog, cam, prev_cam, light_vp, sun_dir, sun_color)
            self._draw(self.glass_vao, "glass")
            mgl.disable(self._mgl.BLEND)
        mgl.depth_mask = True

    def _framebuffers(self, width: int, height: int, ss: int, layers: bool) -> None:
        key = (width, height, ss, layers)
        if self._fbo_size == key:
            return
        w, h = width * ss, height * ss
        comps = dict(_TARGETS)
        names = [name for name, _ in _TARGETS if layers or name not in _LAYER_TARGETS]
        tex = {name: self.ctx.texture((w, h), comps[name], dtype="f4") for name in names}
        tex["glass"] = self.ctx.texture((w, h), 4, dtype="f4")
        depth = self.ctx.depth_renderbuffer((w, h))
        self._fbo = self.ctx.framebuffer([tex[k] for k in names], depth)
        cleared = [tex[k] for k in names if k != "normal"]  # the box-filtered targets
        self._clear_fbo = self.ctx.framebuffer(cleared, depth)
        self._glass_fbo = self.ctx.framebuffer([tex["glass"]], depth)
        out_size = (width, height)
        outs = [name for name, _ in _OUTPUTS if layers or name not in _LAYER_OUTPUTS]
        self._out = {name: self.ctx.texture(out_size, dict(_OUTPUTS)[name], dtype="f4") for name in outs}
        self._resolve_fbo = self.ctx.framebuffer([self._out[k] for k in outs])
        self._targets = tex
        self._fbo_size = key
        self._ss_now = ss

    def _read(self, cam: Camera, layers: bool, glass_over: bool, haze: bool) -> RasterFrame:
        t, ss = self._targets, self._ss_now
        self._resolve_fbo.use()
        self.ctx.disable(self._mgl.DEPTH_TEST | self._mgl.BLEND)
        variant = "layers" if layers else "plain"
        prog = self.resolve[variant]
        for unit, name in enumerate(("direct", "ambient", "normal", "motion", "glass", "detail", "spec", "albedo")):
            if f"{name}_tex" in prog:
                t[name].use(unit)
                prog[f"{name}_tex"] = unit
        self.sky_tex.use(8)
        prog["sky_map"] = 8
        right, up, forward = cam.basis()
        tan_x = np.tan(np.radians(cam.fov_x) / 2)
        values = {
            "ss": ss,
            "has_glass": int(self._counts["glass"] > 0),
            "glass_over": int(glass_over),
            "haze": int(haze and self.sky is not None),
            "haze_distance": float(getattr(self.sky, "haze_distance", 1.0)),
            "motion_limit": 0.25 * cam.width,
            "tan_half": (float(tan_x), float(tan_x / cam.aspect)),
            "out_size": (float(cam.width), float(cam.height)),
            "radius": AO_RADIUS,
            "strength": AO_STRENGTH,
            "cam_right": tuple(map(float, right)),
            "cam_up": tuple(map(float, up)),
            "cam_forward": tuple(map(float, forward)),
        }
        for name, value in values.items():
            if name in prog:
                prog[name].value = value
        prog["view"].write(_gl(cam.view_matrix()))
        prog["ao_kernel"].write(_AO_KERNEL.tobytes())
        self.resolve_vao[variant].render(vertices=3)
        o = self._out
        rgba = _read_tex(o["beauty"])
        aux = _read_tex(o["aux"])
        extra = _read_tex(o["extra"])
        sky = _read_tex(o["sky"])
        covered = sky[..., 3] > 0
        passes = Passes(
            beauty=rgba[..., :3],
            alpha=rgba[..., 3],
            depth=np.where(covered, sky[..., 3], np.inf),
            normal=aux[..., :3],
            part=np.rint(aux[..., 3]).astype(np.int32),
            motion=extra[..., :2],
            shadow=extra[..., 2],
            matte=extra[..., 3],
            background=sky[..., :3],
        )
        if layers:
            detail = _read_tex(o["detail"])
            glass = None if glass_over else _read_tex(o["glass"])
            spec, albedo = _read_tex(o["spec"])[..., :3], _read_tex(o["albedo"])[..., :3]
            return RasterFrame(passes, glass, detail[..., :3], spec, albedo, detail[..., 3])
        if glass_over:
            return RasterFrame(passes, None)
        return RasterFrame(passes, _read_tex(o["glass"]))

    def release(self) -> None:
        self.ctx.release()


_VARIANTS = (("plain", ""), ("layers", "#define LAYERS\n"))
_AO_KERNEL = _ao_kernel()
# supersampled targets of the opaque pass (name, components); the last three only with layers
_TARGETS = (("direct", 4), ("ambient", 4), ("normal", 4), ("motion", 4), ("detail", 4), ("spec", 4), ("albedo", 4))
_LAYER_TARGETS = ("detail", "spec", "albedo")
_OUTPUTS = (("beauty", 4), ("aux", 4), ("extra", 4), ("sky", 4), ("glass", 4), ("detail", 4), ("spec", 4))
_OUTPUTS += (("albedo", 4),)
_LAYER_OUTPUTS = ("detail", "spec", "albedo")


def _in_view(view_proj: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """Which bounding spheres reach into the camera's view (its six clip planes)."""
    m = np.asarray(view_proj, float)
    planes = np.array([m[3] + m[0], m[3] - m[0], m[3] + m[1], m[3] - m[1], m[3] + m[2], m[3] - m[2]])
    planes /= np.linalg.norm(planes[:, :3], axis=1, keepdims=True)
    dist = centres @ planes[:, :3].T + planes[:, 3]
    return np.all(dist >= -radii[:, None], axis=1)


def _runs(spans: np.ndarray, visible: np.ndarray) -> list[tuple[int, int]]:
    """(first, count) of each run of consecutive visible parts whose spans are contiguous
    in the buffer (parts with nothing there do not break a run)."""
    take = visible | (spans[:, 1] == 0)
    if not take.any():
        return []
    edges = np.diff(np.concatenate([[0], take.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    first = spans[starts, 0]
    count = spans[ends, 0] + spans[ends, 1] - first
    return list(zip(first.tolist(), count.tolist()))


def _box_down(img: np.ndarray, s: int) -> np.ndarray:
    """Average s x s blocks (supersampled image to output size)."""
    if s == 1:
        return np.ascontiguousarray(img)
    h, w = img.shape[0] // s, img.shape[1] // s
    return img.reshape(h, s, w, s, *img.shape[2:]).mean(axis=(1, 3))


def _read_tex(tex) -> np.ndarray:
    """A fresh, writable array of the texture (callers paint into the passes)."""
    data = np.empty((tex.height, tex.width, tex.components), np.float32)
    tex.read_into(data)
    return data[::-1]  # GL rows start at the bottom


def _gl(m: np.ndarray) -> bytes:
    return np.asarray(m, np.float32).T.tobytes()


def _light_matrix(sun_dir: np.ndarray, centre: np.ndarray, radius: float, reach: float = 150.0) -> np.ndarray:
    """Orthographic sun camera covering a sphere around the shot's centre, its eye pulled
    back by `reach` metres so tall neighbours up-sun still cast into it."""
    depth = 2 * radius + reach  # eye to centre
    eye = centre + sun_dir * depth
    fwd = -sun_dir
    up = np.array([0.0, 0.0, 1.0]) if abs(fwd[2]) < 0.99 else np.array([0.0, 1.0, 0.0])
    right = np.cross(fwd, up)
    right /= np.linalg.norm(right)
    up = np.cross(right, fwd)
    view = np.eye(4)
    view[0, :3], view[1, :3], view[2, :3] = right, up, -fwd
    view[:3, 3] = -view[:3, :3] @ eye
    far = depth + 2 * radius
    proj = np.diag([1 / radius, 1 / radius, -2 / far, 1.0])
    proj[2, 3] = -1.0  # view z in [0, -far] maps to depth [-1, 1]
    return proj @ view


def _vertex_data(parts: list[Mesh], exposure, static: list[Mesh]) -> tuple[np.ndarray, _Ranges]:
    """Flat-shaded, de-indexed triangles (pos, normal, colour, part id, exposure, material,
    broken), in blocks: the flat scenery that casts no shadow (meta shadow=False: ground,
    paving); each object's opaque triangles when its mesh is closed (see `_closed`); each
    object's opaque triangles when it is not; each object's glass. Objects are the other
    scenery meshes, then the parts, so each draw list is a few runs of consecutive objects."""
    # flat scenery with glass in it (none so far) goes with the objects: its glass is drawn (and it casts)
    flat = [m for m in static if not m.meta.get("shadow", True) and _opaque_rows(m).all()]
    casters = [m for m in static if not any(m is f for f in flat)]
    objects = [(m, m.meta.get("part_id", GROUND_ID), None) for m in casters]
    objects += [(m, k, None if exposure is None else exposure[k]) for k, m in enumerate(parts)]
    groups = {"flat": [_pack(m, m.meta.get("part_id", GROUND_ID), np.ones(len(m.faces))) for m in flat]}
    groups.update(closed=[], open=[], glass=[])
    empty = np.zeros((0, FLOATS))
    for (mesh, part, exp), whole in zip(objects, _closed([m for m, _, _ in objects])):
        rows = _pack(mesh, part, np.ones(len(mesh.faces)) if exp is None else exp)
        is_glass = np.repeat(np.asarray(mesh.meta.get("material", np.full(len(mesh.faces), PLAIN))) == GLASS, 3)
        opaque = rows[~is_glass]
        whole = whole and not is_glass.any()  # a part seen through its own glass shows its inside
        groups["closed"].append(opaque if whole else empty)
        groups["open"].append(empty if whole else opaque)
        groups["glass"].append(rows[is_glass])
    spans, first = {}, 0
    for key in ("flat", "closed", "open", "glass"):
        counts = np.array([len(r) for r in groups[key]], np.int64)
        starts = first + np.concatenate([[0], np.cumsum(counts)[:-1]]) if len(counts) else counts
        spans[key] = np.stack([starts, counts], axis=1) if len(counts) else np.zeros((0, 2), np.int64)
        first += int(counts.sum())
    rows = [r for key in ("flat", "closed", "open", "glass") for r in groups[key]]
    out = np.vstack(rows).astype(np.float32) if rows else np.zeros((0, FLOATS), np.float32)
    centres, radii = _spheres([m for m, _, _ in objects])
    flat_count = int(spans["flat"][:, 1].sum()) if len(spans["flat"]) else 0
    ranges = _Ranges((0, flat_count), spans["closed"], spans["open"], spans["glass"], len(casters), centres, radii)
    return out, ranges


def _opaque_rows(mesh: Mesh) -> np.ndarray:
    material = np.asarray(mesh.meta.get("material", np.full(len(mesh.faces), PLAIN)))
    return np.repeat(material != GLASS, 3)


def _spheres(meshes: list[Mesh]) -> tuple[np.ndarray, np.ndarray]:
    """Bounding sphere (centre of the box, farthest vertex) of each mesh."""
    centres, radii = np.zeros((len(meshes), 3)), np.zeros(len(meshes))
    for k, m in enumerate(meshes):
        v = np.asarray(m.vertices, float)
        if len(v):
            centres[k] = (v.min(axis=0) + v.max(axis=0)) / 2
            radii[k] = np.sqrt(((v - centres[k]) ** 2).sum(axis=1).max())
    return centres, radii


def _closed(meshes: list[Mesh]) -> np.ndarray:
    """Per mesh: closed and consistently wound (every directed edge has its reverse), so
    back faces can be culled. One vectorised pass over all meshes."""
    if not meshes:
        return np.zeros(0, bool)
    offsets = np.cumsum([0] + [len(m.vertices) for m in meshes])
    faces = np.vstack([np.asarray(m.faces, np.int64).reshape(-1, 3) + o for m, o in zip(meshes, offsets)])
    owner = np.repeat(np.arange(len(meshes)), [len(m.faces) for m in meshes])
    a, b = faces.ravel(), faces[:, [1, 2, 0]].ravel()
    n = int(offsets[-1])
    edges, reverse = a * n + b, b * n + a
    ok = np.isin(reverse, edges)
    bad = np.bincount(np.repeat(owner, 3)[~ok], minlength=len(meshes))
    has_faces = np.array([len(m.faces) > 0 for m in meshes])
    return (bad == 0) & has_faces


def _pack(mesh: Mesh, part: int, exposure: np.ndarray) -> np.ndarray:
    tri = mesh.vertices[mesh.faces]  # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    f = len(tri)
    rows = np.empty((f, 3, FLOATS))
    rows[..., 0:3] = tri
    rows[..., 3:6] = n[:, None, :]
    rows[..., 6:9] = face_albedo(mesh)[:, None, :]
    rows[..., 9] = part
    rows[..., 10] = np.asarray(exposure)[:, None]
    rows[..., 11] = np.asarray(mesh.meta.get("material", np.full(f, PLAIN)))[:, None]
    # 1 a fresh broken face; 2 + v: an unbroken surface of style variant v (neighbour facades)
    code = np.asarray(mesh.meta.get("broken", np.zeros(f)), float)
    if "variant" in mesh.meta:
        code = np.where(code > 0.5, 1.0, 2.0 + float(mesh.meta["variant"]))
    rows[..., 12] = code[:, None]
    return rows.reshape(-1, FLOATS)


@lru_cache(maxsize=4)
def _plain_ground_rows(color: tuple, size: float) -> Mesh:
    s = size / 2
    v = np.array([[-s, -s, 0], [s, -s, 0], [s, s, 0], [-s, s, 0]], float)
    return Mesh(v, np.array([[0, 1, 2], [0, 2, 3]]), color, "ground", {"part_id": GROUND_ID, "shadow": False})


def _plain_ground(color, size: float) -> Mesh:
    return _plain_ground_rows(tuple(map(float, color)), float(size))


def cloud_shadow(dust, sun_dir) -> tuple | None:
    """The dust cloud's shadow for `render_frame(dust_shadow=...)`: its sun transmittance
    grid and box (`fx.volume.dust_sun_transmittance`), or None without dust. Computed on
    the dust grid at half resolution (cells of 1-2 m): a cloud's shadow is soft (the sun's
    disc, light scattered around), and this costs a quarter of the full grid's sweep."""
    if dust is None or not np.any(np.asarray(dust.density) > 0):
        return None
    import dataclasses

    from setpiece.fx.volume import dust_sun_transmittance

    density = np.asarray(dust.density, np.float32)
    lo, hi = np.asarray(dust.bounds_min, float), np.asarray(dust.bounds_max, float)
    cell = (hi - lo) / np.array(density.shape)
    density = np.pad(density, [(0, n % 2) for n in density.shape])  # clear air past the box
    half = density.reshape(density.shape[0] // 2, 2, density.shape[1] // 2, 2, density.shape[2] // 2, 2)
    coarse = dataclasses.replace(
        dust, density=half.mean(axis=(1, 3, 5)), bounds_max=tuple(lo + cell * np.array(density.shape))
    )
    return dust_sun_transmittance(coarse, sun_dir)
