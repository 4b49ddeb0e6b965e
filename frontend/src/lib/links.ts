// Dashboard URLs, in one place so pages and Django's urls.py agree.
const enc = encodeURIComponent

export const links = {
    overview: () => '/dashboard/',
    service: (service: string) => `/dashboard/services/${enc(service)}/`,
    pattern: (service: string, patternId: string) => `/dashboard/services/${enc(service)}/patterns/${enc(patternId)}/`,
    editor: (service: string) => `/dashboard/services/${enc(service)}/policy/`,
}
