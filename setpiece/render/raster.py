"""The rasteriser every preview image goes through (shots, boards): moderngl on headless EGL.

All parts live in one vertex buffer in their rest pose; each frame uploads one
rigid transform per part into a float texture that the vertex shader reads.
Static parts (ground, street, neighbours) carry their negative part id and
stay put. A frame is: sun shadow map, the opaque pass (procedural materials
from `materials.GLSL`, sun with shadows, sky irradiance from spherical
harmonics, window reflections; beauty split into direct and ambient light
plus AOVs), screen-space ambient occlusion applied to the ambient light, then
the glass pass (fresnel sky reflections over what lies behind) into its own
layer. Outputs linear-light beauty plus alpha, depth, normal, part-id,
motion, shadow and matte passes; the final backend also reads the texture
detail, reflection and glass layers (`RasterFrame`) to dress its path tracing.
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
from setpiece.render.sky import background, flat_sky

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
out vec3 v_world; out vec3 v_normal; out vec3 v_color; flat out int v_part; out float v_exposure;
out vec3 v_rest; out vec3 v_nrest; flat out int v_mat; flat out float v_broken;
out vec4 v_clip; out vec4 v_clip_prev;
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
    v_clip = gl_Position;
}
"""

_COMMON = """
#version 330
#define PI 3.14159265
uniform sampler2DShadow shadow_map;
uniform sampler2DShadow shadow_far;  // a coarser map over the whole neighbourhood
uniform mat4 light_far;
uniform sampler2D sky_map;
uniform mat4 light_view_proj;
uniform mat4 view;
uniform vec3 eye;
uniform vec3 sun_dir; uniform vec3 sun_color;
uniform vec3 sh[9];
uniform vec2 viewport;
in vec3 v_world; in vec3 v_normal; in vec3 v_color; flat in int v_part; in float v_exposure;
in vec3 v_rest; in vec3 v_nrest; flat in int v_mat; flat in float v_broken;
in vec4 v_clip; in vec4 v_clip_prev;
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

_FRAG = (
    _COMMON
    + GLSL
    + """
layout(location = 0) out vec4 out_direct;  // sun light and reflections, coverage
layout(location = 1) out vec4 out_aux;     // normal.xyz, part id
layout(location = 2) out vec4 out_extra;   // motion px (x right, y down), sun visibility, object coverage
layout(location = 3) out float out_depth;
layout(location = 4) out vec4 out_ambient; // sky light before occlusion
layout(location = 5) out vec4 out_detail;  // textured / base albedo
layout(location = 6) out vec4 out_spec;    // reflections (added after lighting)
layout(location = 7) out vec4 out_albedo;  // textured albedo (the denoiser's guide)
void main() {
    vec3 n = normalize(v_normal);
    if (!gl_FrontFacing) n = -n;
    float window = 0.0;
    vec3 albedo = v_mat < 0 ? v_color
        : material_albedo(v_mat, v_rest, normalize(v_nrest), v_color, v_broken > 0.5 && v_broken < 1.5,
                          v_broken >= 2.0 ? v_broken - 2.0 : 0.5, window);
    float ndl = max(dot(n, sun_dir), 0.0);
    float visible = sun_visibility(n);
    // radiometry as in the final backend: Lambert 1/pi on sun irradiance and sky irradiance
    vec3 direct = albedo * sun_color * ndl * visible / PI;
    vec3 ambient = albedo * sky_irradiance(n) / PI * v_exposure;
    vec3 view_dir = normalize(v_world - eye);
    vec3 r = reflect(view_dir, n);
    float f = fresnel(dot(-view_dir, n));
    vec3 spec = window * f * (sky_radiance(r) + sun_color * visible * pow(max(dot(r, sun_dir), 0.0), 400.0) * 40.0);
    out_direct = vec4(direct + spec, 1.0);
    out_ambient = vec4(ambient, 1.0);
    out_detail = vec4(albedo / max(v_color, vec3(1e-3)), 1.0);
    out_spec = vec4(spec, 1.0);
    out_albedo = vec4(albedo, 1.0);
    out_aux = vec4(n, float(v_part));
    vec2 motion = (v_clip.xy / v_clip.w - v_clip_prev.xy / v_clip_prev.w) * 0.5 * viewport;
    out_extra = vec4(motion.x, -motion.y, visible, v_part >= 0 ? 1.0 : 0.0);
    out_depth = -(view * vec4(v_world, 1.0)).z;
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
    float visible = sun_visibility(n);
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

# Screen-space ambient occlusion: hemisphere samples around each pixel's view-space point
_AO_FRAG = """
#version 330
uniform sampler2D depth_tex; uniform sampler2D aux_tex;
uniform mat4 view; uniform vec2 tan_half; uniform vec2 size; uniform float radius; uniform float strength;
uniform int ss;
out float out_ao;
float hash13(vec3 p) { p = fract(p * 0.1031); p += dot(p, p.zyx + 31.32); return fract((p.x + p.y) * p.z); }
vec3 view_pos(vec2 px, float d) {
    vec2 ndc = px / size * 2.0 - 1.0;
    return vec3(ndc * tan_half * d, -d);
}
void main() {
    ivec2 px = ivec2(gl_FragCoord.xy) * ss;
    float d = texelFetch(depth_tex, px, 0).r;
    if (d <= 0.0) { out_ao = 1.0; return; }
    vec3 p = view_pos(vec2(px) + 0.5, d);
    vec3 n = normalize(mat3(view) * texelFetch(aux_tex, px, 0).xyz);
    float occ = 0.0;
    // two scales: creases and contact (radius) and the street canyon (8 x radius)
    for (int i = 0; i < 8; i++) {
        float r = i < 5 ? radius : radius * 8.0;
        vec3 h = vec3(hash13(vec3(gl_FragCoord.xy, i)), hash13(vec3(gl_FragCoord.yx, i + 17)),
                      hash13(vec3(gl_FragCoord.xy * 1.7, i + 31)));
        vec3 s = normalize(h * 2.0 - 1.0 + 1e-4);
        if (dot(s, n) < 0.0) s = -s;
        s = p + (s + n * 0.15) * r * (0.25 + 0.75 * h.z * h.z);
        if (s.z >= -0.05) continue;
        vec2 q = (s.xy / (-s.z * tan_half) * 0.5 + 0.5) * size;
        if (any(lessThan(q, vec2(0.0))) || any(greaterThanEqual(q, size))) continue;
        float sd = texelFetch(depth_tex, ivec2(q), 0).r;
        if (sd <= 0.0) continue;
        float gap = -s.z - sd;
        if (gap > 0.03) occ += smoothstep(0.0, 1.0, r / max(abs(d - sd), 1e-3));
    }
    out_ao = 1.0 - strength * occ / 8.0;
}
"""


# Supersampled targets down to the output size: box-filtered colour, point-sampled AOVs
_RESOLVE_FRAG = """
#version 330
uniform sampler2D direct_tex; uniform sampler2D ambient_tex; uniform sampler2D ao_tex;
uniform sampler2D glass_tex; uniform sampler2D aux_tex;
uniform sampler2D extra_tex; uniform sampler2D depth_tex; uniform sampler2D detail_tex; uniform sampler2D spec_tex;
uniform sampler2D albedo_tex;
uniform int ss;
layout(location = 0) out vec4 o_beauty;
layout(location = 1) out vec4 o_aux;
layout(location = 2) out vec4 o_extra;  // motion (point), ground shadow (box), matte (box)
layout(location = 3) out float o_depth;
layout(location = 4) out vec4 o_glass;
layout(location = 5) out vec4 o_detail;
layout(location = 6) out vec4 o_spec;
layout(location = 7) out vec4 o_albedo;
void main() {
    ivec2 base = ivec2(gl_FragCoord.xy) * ss;
    float ao = texelFetch(ao_tex, ivec2(gl_FragCoord.xy), 0).r;
    vec4 beauty = vec4(0.0), glass = vec4(0.0), detail = vec4(0.0), spec = vec4(0.0), albedo = vec4(0.0);
    float shadow = 0.0, matte = 0.0;
    for (int i = 0; i < ss; i++) for (int j = 0; j < ss; j++) {
        ivec2 q = base + ivec2(i, j);
        vec4 direct = texelFetch(direct_tex, q, 0);
        beauty += vec4(direct.rgb + texelFetch(ambient_tex, q, 0).rgb * ao, direct.a);
        glass += texelFetch(glass_tex, q, 0);
        detail += texelFetch(detail_tex, q, 0);
        spec += texelFetch(spec_tex, q, 0);
        albedo += texelFetch(albedo_tex, q, 0);
        vec4 e = texelFetch(extra_tex, q, 0);
        float ground = texelFetch(aux_tex, q, 0).w < -1.5 && direct.a > 0.0 ? 1.0 : 0.0;
        shadow += ground * (1.0 - e.z);
        matte += e.w;
    }
    float k = 1.0 / float(ss * ss);
    vec4 e0 = texelFetch(extra_tex, base, 0);
    o_beauty = beauty * k; o_glass = glass * k; o_detail = detail * k; o_spec = spec * k; o_albedo = albedo * k;
    o_aux = texelFetch(aux_tex, base, 0);
    o_extra = vec4(e0.xy / float(ss), 1.0 - shadow * k, matte * k);
    o_depth = texelFetch(depth_tex, base, 0).r;
}
"""


@dataclass
class RasterFrame:
    """One rasterised frame: the passes plus the layers the final backend composes with."""

    passes: Passes
    glass: np.ndarray  # (H, W, 4) premultiplied glass layer (reflection, opacity) to lay over the beauty
    detail: np.ndarray | None = None  # (H, W, 3) textured / base albedo of the visible surface
    spec: np.ndarray | None = None  # (H, W, 3) reflections added after lighting (windows)
    albedo: np.ndarray | None = None  # (H, W, 3) textured albedo of the visible surface


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
        self.ss = supersample
        self.n_parts = len(parts)
        self.sky = sky
        self._mgl = moderngl
        vert = _VERT.replace("%COLS%", str(TEX_COLS))
        frag = (
            _FRAG.replace("%SHADOW%", str(SHADOW_SIZE))
            .replace("%FARSHADOW%", str(FAR_SHADOW_SIZE))
            .replace("%NOISE%", str(NOISE_SIZE))
        )
        self.prog = self.ctx.program(vertex_shader=vert, fragment_shader=frag)
        for name, table in texture_uniforms().items():
            if name in self.prog:
                self.prog[name].write(table.tobytes())
        self.glass_prog = self.ctx.program(
            vertex_shader=vert,
            fragment_shader=_GLASS_FRAG.replace("%SHADOW%", str(SHADOW_SIZE))
            .replace("%FARSHADOW%", str(FAR_SHADOW_SIZE))
            .replace("%FARSHADOW%", str(FAR_SHADOW_SIZE)),
        )
        self.shadow_prog = self.ctx.program(vertex_shader=vert, fragment_shader=_SHADOW_FRAG)
        self.ao_prog = self.ctx.program(vertex_shader=_QUAD_VERT, fragment_shader=_AO_FRAG)
        self.resolve_prog = self.ctx.program(vertex_shader=_QUAD_VERT, fragment_shader=_RESOLVE_FRAG)
        self.depth_prog = self.ctx.program(vertex_shader=vert, fragment_shader=_SHADOW_FRAG)
        if static is None:
            static = [_plain_ground(ground_color, ground_size)]
        data, self.n_flat, self.n_opaque = _vertex_data(parts, exposure, static)
        self.n_vertices = len(data)
        self.vbo = self.ctx.buffer(data.tobytes())
        layout = "3f 3f 3f 1f 1f 1f 1f"
        names = ["in_pos", "in_normal", "in_color", "in_part", "in_exposure", "in_mat", "in_broken"]
        self.vao = self.ctx.vertex_array(self.prog, [(self.vbo, layout, *names)], skip_errors=True)
        self.glass_vao = self.ctx.vertex_array(self.glass_prog, [(self.vbo, layout, *names)], skip_errors=True)
        self.shadow_vao = self.ctx.vertex_array(self.shadow_prog, [(self.vbo, "3f 24x 1f 12x", "in_pos", "in_part")])
        quad = self.ctx.buffer(np.array([-1, -1, 3, -1, -1, 3], np.float32).tobytes())
        self.quad_vao = self.ctx.vertex_array(self.ao_prog, [(quad, "2f", "in_xy")])
        self.resolve_vao = self.ctx.vertex_array(self.resolve_prog, [(quad, "2f", "in_xy")])
        self.depth_vao = self.ctx.vertex_array(self.depth_prog, [(self.vbo, "3f 24x 1f 12x", "in_pos", "in_part")])
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
        self.shadow_tex = self.ctx.depth_texture((SHADOW_SIZE, SHADOW_SIZE))
        self.shadow_tex.compare_func = "<="
        self.shadow_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.shadow_fbo = self.ctx.framebuffer(depth_attachment=self.shadow_tex)
        self.far_tex = self.ctx.depth_texture((FAR_SHADOW_SIZE, FAR_SHADOW_SIZE))
        self.far_tex.compare_func = "<="
        self.far_tex.filter = (moderngl.LINEAR, moderngl.LINEAR)
        self.far_fbo = self.ctx.framebuffer(depth_attachment=self.far_tex)
        self._sky_key = None
        self._fbo_size = None

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
            camera, transforms, sun_dir, sun_color, sky_color, scene_radius, previous, previous_camera
        )
        passes = frame.passes
        passes.beauty = frame.glass[..., :3] + (1.0 - frame.glass[..., 3:4]) * passes.beauty
        return passes

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
    ) -> RasterFrame:
        """The frame's passes (beauty without glass) and its glass layer; with layers, also
        the texture detail and reflection layers."""
        if transforms is None:
            transforms = np.broadcast_to(np.eye(4), (self.n_parts, 4, 4))
        with self.ctx:  # several renderers may be alive: draw in this one's context
            self._upload(self.xform_tex, transforms)
            self._upload(self.prev_tex, transforms if previous is None else previous)
            self._use_sky(sky_color)
            sun_dir = np.asarray(sun_dir, float) / np.linalg.norm(sun_dir)
            target = np.asarray(camera.target, float)
            light_vp = _light_matrix(sun_dir, target, scene_radius)
            self._light_far = _light_matrix(sun_dir, target, max(FAR_SHADOW_RADIUS, scene_radius))
            self._shadow_pass(self.shadow_fbo, light_vp)
            self._shadow_pass(self.far_fbo, self._light_far)
            frame = self._camera_pass(camera, previous_camera or camera, light_vp, sun_dir, sun_color, layers)
        frame.passes.background = background(self._sky_key, camera)
        return frame

    def _use_sky(self, sky_color) -> None:
        sky = self.sky if self.sky is not None else flat_sky(tuple(np.asarray(sky_color, float)))
        if self._sky_key is not sky:
            rad = np.ascontiguousarray(sky.radiance, np.float32)
            self.sky_tex = self.ctx.texture((rad.shape[1], rad.shape[0]), 3, rad.tobytes(), dtype="f4")
            self.sky_tex.filter = (self._mgl.LINEAR, self._mgl.LINEAR)
            self.sky_tex.repeat_y = False
            self._sh = sky.sh
            self._sky_key = sky

    def _upload(self, tex, transforms: np.ndarray) -> None:
        rows = tex.height
        buf = np.zeros((rows * TEX_COLS, 4, 4), np.float32)
        # column-major: each texel is one matrix column
        buf[: self.n_parts] = np.transpose(transforms, (0, 2, 1))
        buf = buf.reshape(rows, TEX_COLS, 4, 4).reshape(rows, TEX_COLS * 4, 4)
        tex.write(np.ascontiguousarray(buf).tobytes())

    def _shadow_pass(self, fbo, light_vp: np.ndarray) -> None:
        fbo.use()
        fbo.clear(depth=1.0)
        self.ctx.enable(self._mgl.DEPTH_TEST)
        self.ctx.disable(self._mgl.CULL_FACE | self._mgl.BLEND)
        self.xform_tex.use(0)
        self.shadow_prog["xforms"] = 0
        self.shadow_prog["view_proj"].write(_gl(light_vp))
        self.shadow_vao.render(first=self.n_flat, vertices=self.n_opaque - self.n_flat)

    def _set_common(self, prog, cam: Camera, prev_cam: Camera, light_vp, sun_dir, sun_color) -> None:
        view = cam.view_matrix()
        self.xform_tex.use(0)
        self.shadow_tex.use(1)
        self.far_tex.use(5)
        self.prev_tex.use(2)
        self.sky_tex.use(3)
        self.noise_tex.use(4)
        values = {
            "xforms": 0,
            "shadow_map": 1,
            "shadow_far": 5,
            "xforms_prev": 2,
            "sky_map": 3,
            "noise_tex": 4,
            "viewport": (float(cam.width), float(cam.height)),
            "eye": tuple(map(float, cam.position)),
            "sun_dir": tuple(sun_dir),
            "sun_color": tuple(map(float, sun_color)),
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

    def _camera_pass(self, cam: Camera, prev_cam: Camera, light_vp, sun_dir, sun_color, layers: bool) -> RasterFrame:
        # above 1080p the pixels are fine enough; supersampling would need 4x the memory
        ss = self.ss if cam.width * cam.height <= MAX_SUPERSAMPLED_PIXELS else 1
        w, h = cam.width * ss, cam.height * ss
        self._ss_now = ss
        self._framebuffers(w, h)
        mgl = self.ctx
        self._fbo.use()
        self._fbo.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
        mgl.enable(self._mgl.DEPTH_TEST)
        mgl.disable(self._mgl.BLEND)
        # depth first, so the material shader runs once per visible sample
        self._set_common(self.depth_prog, cam, prev_cam, light_vp, sun_dir, sun_color)
        mgl.color_mask = (False, False, False, False)
        self.depth_vao.render(vertices=self.n_opaque)
        mgl.color_mask = (True, True, True, True)
        mgl.depth_func = "<="
        mgl.depth_mask = False
        self._set_common(self.prog, cam, prev_cam, light_vp, sun_dir, sun_color)
        self.vao.render(vertices=self.n_opaque)
        mgl.depth_mask = True
        mgl.depth_func = "<"
        # ambient occlusion at the output size (it only scales the soft sky light)
        self._ao_fbo.use()
        mgl.disable(self._mgl.DEPTH_TEST)
        t = self._targets
        t["depth"].use(0)
        t["aux"].use(1)
        ao = self.ao_prog
        ao["depth_tex"], ao["aux_tex"], ao["ss"] = 0, 1, ss
        ao["view"].write(_gl(cam.view_matrix()))
        tan_x = np.tan(np.radians(cam.fov_x) / 2)
        ao["tan_half"].value = (float(tan_x), float(tan_x / cam.aspect))
        ao["size"].value = (float(w), float(h))
        ao["radius"].value = AO_RADIUS
        ao["strength"].value = AO_STRENGTH
        self.quad_vao.render(vertices=3)
        # glass over everything opaque, into its own layer
        self._glass_fbo.use()
        self._glass_fbo.clear(0.0, 0.0, 0.0, 0.0)
        if self.n_vertices > self.n_opaque:
            mgl.enable(self._mgl.DEPTH_TEST | self._mgl.BLEND)
            mgl.depth_mask = False
            mgl.blend_func = (self._mgl.ONE, self._mgl.ONE_MINUS_SRC_ALPHA)
            self._set_common(self.glass_prog, cam, prev_cam, light_vp, sun_dir, sun_color)
            self.glass_vao.render(first=self.n_opaque, vertices=self.n_vertices - self.n_opaque)
            mgl.depth_mask = True
            mgl.disable(self._mgl.BLEND)
        return self._read(w, h, ss, layers)

    def _framebuffers(self, w: int, h: int) -> None:
        if self._fbo_size == (w, h, self._ss_now):
            return
        big = ("direct", 4), ("aux", 4), ("extra", 4), ("depth", 1), ("ambient", 4), ("detail", 4), ("spec", 4)
        big += (("albedo", 4),)
        tex = {name: self.ctx.texture((w, h), comps, dtype="f4") for name, comps in big}
        tex["glass"] = self.ctx.texture((w, h), 4, dtype="f4")
        depth = self.ctx.depth_renderbuffer((w, h))
        order = ("direct", "aux", "extra", "depth", "ambient", "detail", "spec", "albedo")
        self._fbo = self.ctx.framebuffer([tex[k] for k in order], depth)
        self._glass_fbo = self.ctx.framebuffer([tex["glass"]], depth)
        out_size = (w // self._ss_now, h // self._ss_now)
        tex["ao"] = self.ctx.texture(out_size, 1, dtype="f4")
        self._ao_fbo = self.ctx.framebuffer([tex["ao"]])
        small = ("beauty", 4), ("aux", 4), ("extra", 4), ("depth", 1), ("glass", 4), ("detail", 4), ("spec", 4)
        small += (("albedo", 4),)
        self._out = {name: self.ctx.texture(out_size, comps, dtype="f4") for name, comps in small}
        self._resolve_fbo = self.ctx.framebuffer([self._out[k] for k, _ in small])
        self._targets = tex
        self._fbo_size = (w, h, self._ss_now)

    def _read(self, w: int, h: int, s: int, layers: bool) -> RasterFrame:
        t = self._targets
        self._resolve_fbo.use()
        self.ctx.disable(self._mgl.DEPTH_TEST | self._mgl.BLEND)
        names = ("direct", "ambient", "ao", "glass", "aux", "extra", "depth", "detail", "spec", "albedo")
        for unit, name in enumerate(names):
            t[name].use(unit)
            self.resolve_prog[f"{name}_tex"] = unit
        self.resolve_prog["ss"] = s
        self.resolve_vao.render(vertices=3)
        o = self._out
        rgba = _read_tex(o["beauty"], 4)
        aux = _read_tex(o["aux"], 4)
        extra = _read_tex(o["extra"], 4)
        depth = _read_tex(o["depth"], 1)[..., 0]
        covered = rgba[..., 3] > 0
        passes = Passes(
            beauty=rgba[..., :3],
            alpha=rgba[..., 3],
            depth=np.where(covered, depth, np.inf),
            normal=aux[..., :3] * covered[..., None],
            part=np.where(covered, np.rint(aux[..., 3]).astype(np.int32), -1),
            motion=_clean_motion(extra[..., :2], w // s),
            shadow=extra[..., 2],
            matte=extra[..., 3],
        )
        glass = _read_tex(o["glass"], 4)
        if not layers:
            return RasterFrame(passes, glass)
        layer = {k: _read_tex(o[k], 4)[..., :3] for k in ("detail", "spec", "albedo")}
        return RasterFrame(passes, glass, layer["detail"], layer["spec"], layer["albedo"])

    def release(self) -> None:
        self.ctx.release()


def _clean_motion(motion: np.ndarray, width: int) -> np.ndarray:
    """Parts that just appeared (or sit behind the camera) have no sensible motion."""
    motion = np.nan_to_num(motion, nan=0.0, posinf=0.0, neginf=0.0)
    limit = 0.25 * width
    motion[np.abs(motion).max(axis=-1) > limit] = 0.0
    return motion


def _box_down(img: np.ndarray, s: int) -> np.ndarray:
    """Average s x s blocks (supersampled image to output size)."""
    if s == 1:
        return np.ascontiguousarray(img)
    h, w = img.shape[0] // s, img.shape[1] // s
    return img.reshape(h, s, w, s, *img.shape[2:]).mean(axis=(1, 3))


def _read_tex(tex, comps: int) -> np.ndarray:
    data = np.frombuffer(tex.read(), np.float32).reshape(tex.height, tex.width, comps)
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


def _vertex_data(parts: list[Mesh], exposure, static: list[Mesh]) -> tuple[np.ndarray, int, int]:
    """Flat-shaded, de-indexed triangles (pos, normal, colour, part id, exposure, material,
    broken): first the flat scenery that casts no shadow (meta shadow=False: ground, paving),
    then the other opaque ones, then glass. Returns the rows, where the casters start and
    where the glass starts."""
    flat, opaque, glass = [], [], []
    meshes = [(m, m.meta.get("part_id", GROUND_ID), None) for m in static]
    meshes += [(m, k, None if exposure is None else exposure[k]) for k, m in enumerate(parts)]
    for mesh, part, exp in meshes:
        rows = _pack(mesh, part, np.ones(len(mesh.faces)) if exp is None else exp)
        is_glass = np.repeat(np.asarray(mesh.meta.get("material", np.full(len(mesh.faces), PLAIN))) == GLASS, 3)
        (opaque if mesh.meta.get("shadow", True) else flat).append(rows[~is_glass])
        glass.append(rows[is_glass])
    out = np.vstack(flat + opaque + glass).astype(np.float32)
    n_flat = sum(len(o) for o in flat)
    return out, n_flat, n_flat + sum(len(o) for o in opaque)


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
