import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'

import { OverviewPage } from './pages/OverviewPage'
import { PatternPage } from './pages/PatternPage'
import { PolicyEditorPage } from './pages/PolicyEditorPage'
import { ServicePage } from './pages/ServicePage'
import './styles.css'

// Django renders <div id="lipservice-root" data-page=... data-service=...>; the bundle mounts the page it names.
function pageFor(root: HTMLElement) {
    const { page = '', service = '', pattern = '', version = '', actor = '' } = root.dataset
    switch (page) {
        case 'overview':
            return <OverviewPage />
        case 'service':
            return <ServicePage service={service} />
        case 'pattern':
            return <PatternPage service={service} patternId={pattern} />
        case 'editor':
            return <PolicyEditorPage service={service} version={version ? Number(version) : null} actor={actor} />
        default:
            return <div className="status status-error">Unknown page {page}</div>
    }
}

const root = document.getElementById('lipservice-root')
if (root) {
    createRoot(root).render(<StrictMode>{pageFor(root)}</StrictMode>)
}
